/**
 * A Server-Sent Events reader over Node's fetch, for tests of the HTTP view's /events: it parses
 * the stream as the HTML standard says (fields up to a blank line; `event`, `data`, comments),
 * independent of the gateway's writer.
 */
export interface ServerEvent {
  event: string;
  data: string;
}

export interface SseStream {
  status: number;
  headers: Headers;
  /** The next event, or undefined after timeoutMs or at the end of the stream. */
  next(timeoutMs?: number): Promise<ServerEvent | undefined>;
  close(): void;
}

export async function openEvents(url: string): Promise<SseStream> {
  const controller = new AbortController();
  const res = await fetch(url, { signal: controller.signal, headers: { accept: 'text/event-stream' } });
  const queue: ServerEvent[] = [];
  let waiter: (() => void) | undefined;
  let ended = false;
  if (res.body !== null && res.status === 200) {
    void (async () => {
      const decoder = new TextDecoder();
      let buffer = '';
      let event = 'message';
      let data: string[] = [];
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          buffer += decoder.decode(chunk, { stream: true });
          let nl: number;
          while ((nl = buffer.indexOf('\n')) >= 0) {
            const line = buffer.slice(0, nl).replace(/\r$/, '');
            buffer = buffer.slice(nl + 1);
            if (line === '') {
              if (data.length > 0) queue.push({ event, data: data.join('\n') });
              event = 'message';
              data = [];
              waiter?.();
            } else if (line.startsWith(':')) continue;
            else {
              const colon = line.indexOf(':');
              const field = colon < 0 ? line : line.slice(0, colon);
              const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
              if (field === 'event') event = value;
              else if (field === 'data') data.push(value);
            }
          }
        }
      } catch {
        // aborted by close()
      }
      ended = true;
      waiter?.();
    })();
  } else ended = true;
  return {
    status: res.status,
    headers: res.headers,
    async next(timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (queue.length === 0 && !ended && Date.now() < deadline) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, deadline - Date.now());
          waiter = () => {
            clearTimeout(t);
            waiter = undefined;
            resolve();
          };
        });
      }
      return queue.shift();
    },
    close() {
      controller.abort();
      if (res.status !== 200) void res.body?.cancel().catch(() => {});
    },
  };
}
