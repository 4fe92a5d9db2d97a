import { PayloadTooLargeError } from '#libs/common';
import { Transform, type TransformCallback } from 'node:stream';

/** Most lines an import file may have. */
export const MAX_IMPORT_LINES = 10_000_000;
/** How many bad lines a rejected file reports. */
export const REPORTED_BAD_LINES = 20;

const USER_ID = /^[1-9]\d{0,15}$/;
const HEADER = 'user_id';

export interface BadLine {
  /** The file's own 1-based line number (a header is line 1). */
  line: number;
  message: string;
}

/**
 * Reads an import file as it streams in — one user id per line, an optional `user_id` header,
 * LF or CRLF — and writes each valid id as a COPY text line for the staging table, so memory
 * stays flat whatever the file's size. Every line is checked; the first bad ones are kept
 * with their numbers. `maxBytes` and MAX_IMPORT_LINES end the stream with PayloadTooLargeError.
 */
export class ImportFileParser extends Transform {
  lines = 0;
  ids = 0;
  badLines = 0;
  readonly reported: BadLine[] = [];
  private bytes = 0;
  private partial = '';

  constructor(
    private readonly importId: string,
    private readonly maxUserId: number,
    private readonly maxBytes: number,
  ) {
    super({ readableHighWaterMark: 64 * 1024 });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.maxBytes) return done(new PayloadTooLargeError(`The file is larger than ${this.maxBytes} bytes`));
    const text = this.partial + chunk.toString('latin1');
    const lines = text.split('\n');
    this.partial = lines.pop()!;
    const out: string[] = [];
    for (const line of lines) this.line(line, out);
    if (this.lines > MAX_IMPORT_LINES) return done(new PayloadTooLargeError(`The file has more than ${MAX_IMPORT_LINES} lines`));
    done(null, out.length ? out.join('') : undefined);
  }

  override _flush(done: TransformCallback): void {
    const out: string[] = [];
    if (this.partial !== '') this.line(this.partial, out);
    done(null, out.length ? out.join('') : undefined);
  }

  /** Whether the file held no bad line. */
  get valid(): boolean {
    return this.badLines === 0;
  }

  private line(raw: string, out: string[]): void {
    this.lines++;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (this.lines === 1 && line === HEADER) return;
    if (USER_ID.test(line) && Number(line) <= this.maxUserId) {
      this.ids++;
      out.push(`${this.importId}\t${line}\t${this.lines}\n`);
      return;
    }
    this.badLines++;
    if (this.reported.length < REPORTED_BAD_LINES) {
      const shown = line.length > 40 ? `${line.slice(0, 40)}…` : line;
      this.reported.push({ line: this.lines, message: line === '' ? 'is empty' : `"${shown}" is not a user id (1 … ${this.maxUserId})` });
    }
  }
}
