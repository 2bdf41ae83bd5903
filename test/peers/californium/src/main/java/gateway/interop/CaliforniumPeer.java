package gateway.interop;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.cbor.CBORFactory;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.eclipse.californium.core.CoapClient;
import org.eclipse.californium.core.CoapHandler;
import org.eclipse.californium.core.CoapObserveRelation;
import org.eclipse.californium.core.CoapResponse;
import org.eclipse.californium.core.coap.BlockOption;
import org.eclipse.californium.core.coap.CoAP.ResponseCode;
import org.eclipse.californium.core.coap.MediaTypeRegistry;
import org.eclipse.californium.core.coap.Message;
import org.eclipse.californium.core.coap.MessageObserverAdapter;
import org.eclipse.californium.core.coap.OptionSet;
import org.eclipse.californium.core.coap.Request;
import org.eclipse.californium.core.coap.Response;
import org.eclipse.californium.core.config.CoapConfig;
import org.eclipse.californium.core.network.CoapEndpoint;
import org.eclipse.californium.core.network.interceptors.MessageInterceptorAdapter;
import org.eclipse.californium.elements.config.Configuration;
import org.eclipse.californium.elements.config.SystemConfig;
import org.eclipse.californium.elements.config.UdpConfig;

/**
 * Eclipse Californium as a CoAP client for the gateway's interop tests: one named exchange per
 * run, written as a Californium user would write it (CoapClient, the library's own block-wise
 * layer and token handling), and one JSON object on stdout:
 *
 * <pre>{"exchange":"get-cbor","code":"2.05","contentFormat":60,"payloadHex":"...",
 *  "observe":[...],"messages":[...],"errors":[...]}</pre>
 *
 * "messages" lists every datagram the endpoint sent or received (type, code, token, Block2,
 * ETag, Observe), so the test can tell what went over the wire inside one block-wise transfer;
 * "errors" lists what Californium reported instead of a response (a block-wise failure is a send
 * error, e.g. "response does not contain expected ETag").
 *
 * Usage: java -jar californium-peer.jar EXCHANGE HOST PORT. Exit 0 when a response came back
 * (whatever its code), 1 when none did, 2 on a usage error.
 *
 * The configuration is built in memory (createStandardWithoutFile): Californium's default,
 * Configuration.getStandard(), writes Californium3.properties into the working directory.
 */
public final class CaliforniumPeer {
  private static final long TIMEOUT_MS = 8_000;
  private static final HexFormat HEX = HexFormat.of();
  private static final ObjectMapper JSON = new ObjectMapper();

  private final ObjectNode out = JSON.createObjectNode();
  private final ArrayNode messages = out.putArray("messages");
  private final ArrayNode errors = out.putArray("errors");

  public static void main(String[] args) throws Exception {
    // Before any Californium class logs: warnings only, to stderr (slf4j-simple's default target).
    System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
    if (args.length != 3) {
      System.err.println("usage: californium-peer EXCHANGE HOST PORT");
      System.exit(2);
    }
    CaliforniumPeer peer = new CaliforniumPeer();
    boolean answered = peer.run(args[0], args[1], Integer.parseInt(args[2]));
    System.out.println(JSON.writeValueAsString(peer.out));
    System.out.flush();
    // Californium's executors are not all daemons: exit rather than wait for them.
    System.exit(answered ? 0 : 1);
  }

  private boolean run(String exchange, String host, int port) throws Exception {
    out.put("exchange", exchange);
    CoapConfig.register();
    UdpConfig.register();
    SystemConfig.register();
    Configuration config = Configuration.createStandardWithoutFile();
    Integer blockSize = switch (exchange) {
      case "block-wellknown-16", "block-stats-16" -> 16;
      case "block-wellknown-64", "block-stats-64" -> 64;
      default -> null;
    };
    if (blockSize != null) config.set(CoapConfig.PREFERRED_BLOCK_SIZE, blockSize);

    CoapEndpoint endpoint = new CoapEndpoint.Builder().setConfiguration(config).build();
    endpoint.addInterceptor(new MessageInterceptorAdapter() {
      @Override
      public void sendRequest(Request request) {
        record("sent", request, request.getCode().name());
      }

      @Override
      public void receiveResponse(Response response) {
        record("received", response, code(response.getCode()));
      }
    });
    endpoint.start();
    String authority = host.contains(":") ? "[" + host + "]:" + port : host + ":" + port;
    CoapClient client = new CoapClient();
    client.setEndpoint(endpoint);
    client.setTimeout(TIMEOUT_MS);
    try {
      switch (exchange) {
        case "get-cbor":
          return report(client, get("coap://" + authority + "/temp", MediaTypeRegistry.APPLICATION_CBOR));
        case "get-senml-cbor":
          return report(client, get("coap://" + authority + "/temp", MediaTypeRegistry.APPLICATION_SENML_CBOR));
        case "get-ipv6":
          return report(client, get("coap://" + authority + "/temp", MediaTypeRegistry.APPLICATION_CBOR));
        case "fetch-cbor": {
          // Jackson's defaults, as a Java user would write the body.
          byte[] body = new ObjectMapper(new CBORFactory()).writeValueAsBytes(Map.of("unit", "K"));
          out.put("requestHex", HEX.formatHex(body));
          Request fetch = Request.newFetch();
          fetch.setURI("coap://" + authority + "/temp");
          fetch.getOptions().setContentFormat(MediaTypeRegistry.APPLICATION_CBOR);
          fetch.getOptions().setAccept(MediaTypeRegistry.APPLICATION_CBOR);
          fetch.setPayload(body);
          return report(client, fetch);
        }
        case "discovery":
          // What client.discover() sends (GET /.well-known/core, Accept 40), kept as bytes.
          return report(client, get("coap://" + authority + "/.well-known/core", MediaTypeRegistry.APPLICATION_LINK_FORMAT));
        case "block-wellknown-16", "block-wellknown-64":
          client.useEarlyNegotiation(blockSize);
          return report(client, get("coap://" + authority + "/.well-known/core", MediaTypeRegistry.UNDEFINED));
        case "block-stats-16", "block-stats-64":
          client.useEarlyNegotiation(blockSize);
          return report(client, get("coap://" + authority + "/gw/stats", MediaTypeRegistry.UNDEFINED));
        case "get-stats":
          // No size asked for: the server's choice of blocks, if any (a stranger gets small ones).
          return report(client, get("coap://" + authority + "/gw/stats", MediaTypeRegistry.UNDEFINED));
        case "observe-cancel":
          return observeCancel(client, "coap://" + authority + "/temp");
        default:
          System.err.println("unknown exchange " + exchange);
          System.exit(2);
          return false;
      }
    } finally {
      client.shutdown();
      endpoint.destroy();
    }
  }

  private Request get(String uri, int accept) {
    Request request = Request.newGet();
    request.setURI(uri);
    if (accept != MediaTypeRegistry.UNDEFINED) request.getOptions().setAccept(accept);
    return request;
  }

  private boolean report(CoapClient client, Request request) {
    watch(request);
    CoapResponse response;
    try {
      response = client.advanced(request);
    } catch (Exception e) {
      error(e.toString());
      response = null;
    }
    if (response == null) {
      out.putNull("code");
      return false;
    }
    putResponse(out, response.advanced());
    return true;
  }

  /**
   * Observe /temp (Accept 60) until the registration response and two notifications have come,
   * then proactiveCancel(): a GET with Observe=1 (RFC 7641 section 3.6), whose response ends it.
   */
  private boolean observeCancel(CoapClient client, String uri) throws InterruptedException {
    List<Response> loads = new ArrayList<>();
    Request request = get(uri, MediaTypeRegistry.APPLICATION_CBOR);
    request.setObserve();
    watch(request);
    CoapObserveRelation relation = client.observe(request, new CoapHandler() {
      @Override
      public void onLoad(CoapResponse response) {
        synchronized (loads) {
          loads.add(response.advanced());
          loads.notifyAll();
        }
      }

      @Override
      public void onError() {
        error("observe onError");
      }
    });
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(TIMEOUT_MS);
    synchronized (loads) {
      while (loads.size() < 3 && System.nanoTime() < deadline) {
        loads.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
      }
    }
    ArrayNode observed = out.putArray("observe");
    List<Response> seen;
    synchronized (loads) {
      seen = new ArrayList<>(loads);
    }
    for (Response r : seen) putResponse(observed.addObject(), r);
    if (seen.isEmpty()) {
      out.putNull("code");
      relation.reactiveCancel();
      return false;
    }
    putResponse(out, seen.get(0));
    // proactiveCancel() is asynchronous; its response arrives on the relation's handler, so
    // wait for a response without Observe (the deregistration's answer), at most 3 s.
    relation.proactiveCancel();
    long cancelDeadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
    Response cancelAnswer = null;
    synchronized (loads) {
      while (cancelAnswer == null && System.nanoTime() < cancelDeadline) {
        for (Response r : loads) if (!r.getOptions().hasObserve()) cancelAnswer = r;
        if (cancelAnswer == null) loads.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(cancelDeadline - System.nanoTime())));
      }
    }
    if (cancelAnswer != null) putResponse(out.putObject("cancel"), cancelAnswer);
    else out.putNull("cancel");
    out.put("canceled", relation.isCanceled());
    return true;
  }

  /** Whatever Californium reports instead of a response (timeouts, block-wise failures). */
  private void watch(Request request) {
    request.addMessageObserver(new MessageObserverAdapter() {
      @Override
      public void onSendError(Throwable error) {
        error("send error: " + error);
      }

      @Override
      public void onTimeout() {
        error("timeout");
      }

      @Override
      public void onReject() {
        error("rejected");
      }

      @Override
      public void onResponseHandlingError(Throwable error) {
        error("response handling error: " + error);
      }
    });
  }

  private synchronized void error(String text) {
    errors.add(text);
  }

  private synchronized void record(String direction, Message message, String code) {
    ObjectNode m = messages.addObject();
    m.put("dir", direction);
    m.put("type", message.getType().name());
    m.put("code", code);
    m.put("mid", message.getMID());
    m.put("token", message.getTokenString());
    OptionSet o = message.getOptions();
    if (o.hasBlock2()) m.put("block2", block(o.getBlock2()));
    if (o.hasObserve()) m.put("observe", o.getObserve());
    if (o.getETagCount() > 0) m.put("etag", HEX.formatHex(o.getETags().get(0)));
    m.put("payloadLength", message.getPayloadSize());
  }

  private static String block(BlockOption b) {
    return b.getNum() + "/" + (b.isM() ? 1 : 0) + "/" + b.getSize();
  }

  private static String code(ResponseCode code) {
    return code.codeClass + "." + String.format("%02d", code.codeDetail);
  }

  private static void putResponse(ObjectNode node, Response response) {
    node.put("code", code(response.getCode()));
    OptionSet o = response.getOptions();
    node.put("contentFormat", o.getContentFormat());
    node.put("payloadHex", HEX.formatHex(response.getPayload() == null ? new byte[0] : response.getPayload()));
    if (o.hasObserve()) node.put("observeSeq", o.getObserve());
    if (o.hasMaxAge()) node.put("maxAge", o.getMaxAge());
    if (o.getETagCount() > 0) node.put("etag", HEX.formatHex(o.getETags().get(0)));
  }
}
