import type { FastifyReply } from 'fastify';

/** A comment line this often keeps proxies and load balancers from closing an idle stream. */
const KEEP_ALIVE_MS = 15_000;

export type SendEvent = (event: string, data: unknown) => void;

/**
 * Server-Sent Events responses. `open` subscribes before anything is written, so a refusal (or a
 * database error) is still an ordinary problem answer; events it sends meanwhile are queued. Every
 * open stream is ended when the app closes, so a shutdown does not wait on them.
 */
export class EventStreams {
  readonly #open = new Set<() => void>();

  async serve(reply: FastifyReply, open: (send: SendEvent) => Promise<() => void>): Promise<void> {
    const queued: string[] = [];
    let write: ((chunk: string) => void) | null = null;
    const send: SendEvent = (event, data) => {
      const chunk = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
      if (write) write(chunk);
      else queued.push(chunk);
    };
    const unsubscribe = await open(send);

    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
      ...(reply.getHeaders() as Record<string, string>),
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      // nginx and its kind buffer responses unless told not to
      'x-accel-buffering': 'no',
    });
    raw.write('retry: 3000\n\n');
    for (const chunk of queued) raw.write(chunk);
    write = (chunk) => {
      if (!raw.writableEnded) raw.write(chunk);
    };
    const keepAlive = setInterval(() => write?.(': keep-alive\n\n'), KEEP_ALIVE_MS);
    keepAlive.unref();
    const end = () => {
      if (!this.#open.delete(end)) return;
      clearInterval(keepAlive);
      unsubscribe();
      if (!raw.writableEnded) raw.end();
    };
    this.#open.add(end);
    raw.on('close', end);
  }

  /** Ends every open stream (the app is closing). */
  closeAll(): void {
    for (const end of [...this.#open]) end();
  }

  get size(): number {
    return this.#open.size;
  }
}
