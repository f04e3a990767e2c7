/**
 * Reads a text/event-stream body (Server-Sent Events) from fetch, for programs that cannot use
 * the browser's EventSource (it cannot send an Authorization header). Calls `onEvent` with each
 * event's name and data; comments and `retry:` lines are skipped. Resolves when the stream ends.
 */
export async function readEventStream(body: ReadableStream<Uint8Array>, onEvent: (event: string, data: string) => void): Promise<void> {
  const decoder = new TextDecoder();
  let buffer = '';
  const reader = body.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = 'message';
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith('event:')) event = line.slice(6).trim();
          else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
        }
        if (data.length > 0) onEvent(event, data.join('\n'));
      }
    }
  } finally {
    reader.releaseLock();
  }
}
