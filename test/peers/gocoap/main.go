// gocoap-peer: a CoAP client written against go-coap v3's own client API (udp.Dial, Get, Fetch,
// Observe), used by test/interop-gocoap.test.ts as an independent peer of the gateway.
//
// Usage: gocoap-peer <exchange> <host:port>
//
// Each invocation runs one named exchange with the library's defaults (block-wise transfer on at
// SZX 1024, its own token generator and message IDs, CON requests) unless the exchange names a
// block size, and prints one JSON object on stdout:
//
//	{"code":"2.05","contentFormat":60,"payloadHex":"...","observe":[...]}
//
// A failure of the exchange itself (no response, a library error) is reported in "error" and
// makes the exit status 1; a non-2.xx response is not a failure here, the test judges the code.
// During observe-cancel one line per notification ("notification <n>") goes to stderr as it
// arrives, so the test can change the simulated temperature between notifications.
package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/pool"
	"github.com/plgd-dev/go-coap/v3/net/blockwise"
	"github.com/plgd-dev/go-coap/v3/options"
	"github.com/plgd-dev/go-coap/v3/udp"
	"github.com/plgd-dev/go-coap/v3/udp/client"
)

// Response is what one CoAP response looked like to the application.
type Response struct {
	Code          string  `json:"code"`
	ContentFormat *int    `json:"contentFormat"`
	PayloadHex    string  `json:"payloadHex"`
	ETagHex       *string `json:"etagHex,omitempty"`
	Observe       *uint32 `json:"observeSeq,omitempty"`
}

// Result is the one JSON object printed on stdout.
type Result struct {
	Exchange string `json:"exchange"`
	Response
	// RequestHex is the body sent (FETCH), as the CBOR library wrote it.
	RequestHex string `json:"requestHex,omitempty"`
	// Observe holds every message the observation handler was given, the registration response first.
	Observe []Response `json:"observe,omitempty"`
	// Cancel is "ok" or the error Observation.Cancel returned.
	Cancel string `json:"cancel,omitempty"`
	Error  string `json:"error,omitempty"`
}

const exchangeTimeout = 8 * time.Second

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: gocoap-peer <exchange> <host:port>")
		os.Exit(2)
	}
	name, target := os.Args[1], os.Args[2]
	res := Result{Exchange: name}
	if err := run(name, target, &res); err != nil {
		res.Error = err.Error()
	}
	out, _ := json.Marshal(res)
	fmt.Println(string(out))
	if res.Error != "" {
		os.Exit(1)
	}
}

func run(name, target string, res *Result) error {
	var opts []udp.Option
	switch name {
	case "block-wellknown-16", "block-stats-16":
		opts = append(opts, options.WithBlockwise(true, blockwise.SZX16, exchangeTimeout))
	case "block-wellknown-64", "block-stats-64":
		opts = append(opts, options.WithBlockwise(true, blockwise.SZX64, exchangeTimeout))
	}
	co, err := udp.Dial(target, opts...)
	if err != nil {
		return fmt.Errorf("dial %s: %w", target, err)
	}
	defer co.Close()
	ctx, cancel := context.WithTimeout(context.Background(), exchangeTimeout)
	defer cancel()

	var resp *pool.Message
	switch name {
	case "get-cbor", "get-ipv6":
		resp, err = co.Get(ctx, "/temp", message.Option{ID: message.Accept, Value: []byte{byte(message.AppCBOR)}})
	case "get-senml-cbor":
		resp, err = co.Get(ctx, "/temp", message.Option{ID: message.Accept, Value: []byte{byte(message.AppSenmlCbor)}})
	case "fetch-cbor":
		var body []byte
		body, err = cbor.Marshal(map[string]string{"unit": "K"})
		if err != nil {
			return fmt.Errorf("cbor.Marshal: %w", err)
		}
		res.RequestHex = hex.EncodeToString(body)
		resp, err = co.Fetch(ctx, "/temp", message.AppCBOR, bytes.NewReader(body))
	case "discovery", "block-wellknown-16", "block-wellknown-64":
		resp, err = co.Get(ctx, "/.well-known/core")
	case "block-stats-16", "block-stats-64":
		resp, err = co.Get(ctx, "/gw/stats")
	case "observe-cancel":
		return observeCancel(ctx, co, res)
	default:
		return fmt.Errorf("unknown exchange %q", name)
	}
	if err != nil {
		return err
	}
	r, err := describe(resp)
	if err != nil {
		return err
	}
	res.Response = r
	return nil
}

// observeCancel registers, waits for the registration response and two notifications after it,
// then deregisters with Observation.Cancel (a GET with Observe=1, RFC 7641 section 3.6).
func observeCancel(ctx context.Context, co *client.Conn, res *Result) error {
	var mu sync.Mutex
	enough := make(chan struct{})
	var handlerErr error
	obs, err := co.Observe(ctx, "/temp", func(m *pool.Message) {
		r, err := describe(m)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			handlerErr = err
			return
		}
		res.Observe = append(res.Observe, r)
		fmt.Fprintf(os.Stderr, "notification %d\n", len(res.Observe))
		if len(res.Observe) == 3 {
			close(enough)
		}
	}, message.Option{ID: message.Accept, Value: []byte{byte(message.AppCBOR)}})
	if err != nil {
		return fmt.Errorf("observe: %w", err)
	}
	select {
	case <-enough:
	case <-ctx.Done():
		mu.Lock()
		defer mu.Unlock()
		return fmt.Errorf("%d message(s) before the timeout, 3 wanted: %w", len(res.Observe), ctx.Err())
	}
	cctx, ccancel := context.WithTimeout(context.Background(), exchangeTimeout)
	defer ccancel()
	if err := obs.Cancel(cctx); err != nil {
		res.Cancel = err.Error()
	} else {
		res.Cancel = "ok"
	}
	mu.Lock()
	defer mu.Unlock()
	if handlerErr != nil {
		return handlerErr
	}
	res.Response = res.Observe[0]
	return nil
}

func describe(m *pool.Message) (Response, error) {
	c := uint8(m.Code())
	r := Response{Code: fmt.Sprintf("%d.%02d", c>>5, c&0x1f)}
	if cf, err := m.ContentFormat(); err == nil {
		v := int(cf)
		r.ContentFormat = &v
	}
	if etag, err := m.ETag(); err == nil {
		h := hex.EncodeToString(etag)
		r.ETagHex = &h
	}
	if seq, err := m.Observe(); err == nil {
		r.Observe = &seq
	}
	if m.Body() != nil {
		body, err := m.ReadBody()
		if err != nil {
			return r, fmt.Errorf("read body: %w", err)
		}
		r.PayloadHex = hex.EncodeToString(body)
	}
	return r, nil
}
