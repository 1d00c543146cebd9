/**
 * A bound on the memory `kv http`'s answers hold while they wait for their clients. An
 * answer is in memory from when it is made until the client has taken its last byte: a
 * record of 15 MiB of control characters is some 90 MB of JSON (each `\u0001`), and a
 * client that reads slowly, or not at all, holds it that long. With 1024 requests answered
 * at once, one client could hold tens of GB. {@link AnswerBudget} counts the bytes of every
 * large answer from when it is made until its body has been taken whole or given up (the
 * client went away), and refuses one that would take the total past its bound: the caller
 * answers 503 with `Retry-After`, as when too many requests are in flight.
 *
 * @example
 * ```ts
 * import { AnswerBudget } from "./answer_budget.ts";
 * const answers = new AnswerBudget(256 * 1024 * 1024);
 * const response = answers.response(`{"value":"${"a".repeat(100_000)}"}`, {
 *   headers: { "Content-Type": "application/json" },
 * });
 * ```
 * @module
 */
import { invariant } from "../base/invariant.ts";

/**
 * Bytes of large answers held at once by default (`kv http --max-answer-bytes`): the
 * largest answer, a 16 MiB value of control characters as JSON (96 MiB), fits twice.
 */
export const DEFAULT_MAX_ANSWER_BYTES = 256 * 1024 * 1024;

/**
 * Answers of at most this many characters (192 KiB at most as UTF-8) are sent whole and not
 * counted: most answers are, and they cost no stream. Those in flight are bounded by the
 * requests (`--max-concurrent-requests`) and connections open, as the kernel's socket
 * buffers, which hold as much per connection, are.
 */
export const COUNTED_ANSWER_CHARS = 64 * 1024;

/**
 * Bytes of a counted answer handed to `Deno.serve` at a time: it asks for the next once it
 * has written the last, so an answer to a client that stopped reading stays in its buffer.
 */
const ANSWER_CHUNK_BYTES = 64 * 1024;

/**
 * An answer refused for the budget: the caller answers 503 with `Retry-After`.
 *
 * @example
 * ```ts
 * new AnswerBudgetError(100_000_000, 200_000_000, 256 * 1024 * 1024).message;
 * // "busy: this answer of 100000000 bytes and the 200000000 bytes of answers in flight …"
 * ```
 */
export class AnswerBudgetError extends Error {
  /**
   * The error for an answer of `bytes` refused while `held` of `maxBytes` were in flight.
   *
   * @param bytes the answer's size.
   * @param held bytes of the answers in flight.
   * @param maxBytes the budget.
   */
  constructor(readonly bytes: number, readonly held: number, readonly maxBytes: number) {
    super(
      `busy: this answer of ${bytes} bytes and the ${held} bytes of answers in flight ` +
        `would be over ${maxBytes} (--max-answer-bytes); retry once they are delivered`,
    );
  }
}

const encoder = new TextEncoder();

/**
 * Counts the bytes of the large answers in flight, refusing one past `maxBytes`; one answer
 * alone is never refused, so that a record larger than the budget can still be read: the
 * answers held are at most `maxBytes`, or one answer when it is larger.
 *
 * @example
 * ```ts
 * const answers = new AnswerBudget(1024 * 1024);
 * answers.response("small", { headers: { "Content-Type": "text/plain" } });
 * answers.held; // 0: small answers are not counted
 * ```
 */
export class AnswerBudget {
  readonly #maxBytes: number;
  #held = 0;

  /**
   * A budget of `maxBytes`, nothing held.
   *
   * @param maxBytes the bound; default {@link DEFAULT_MAX_ANSWER_BYTES}.
   */
  constructor(maxBytes: number = DEFAULT_MAX_ANSWER_BYTES) {
    invariant(maxBytes > 0, "a positive answer budget");
    this.#maxBytes = maxBytes;
  }

  /**
   * Bytes of the counted answers not yet taken whole or given up.
   *
   * @example
   * ```ts
   * new AnswerBudget().held; // 0
   * ```
   */
  get held(): number {
    return this.#held;
  }

  /**
   * A Response of `text`: whole when it has at most {@link COUNTED_ANSWER_CHARS}
   * characters, else streamed with its `Content-Length` and counted until its body has been
   * taken whole or cancelled. Throws {@link AnswerBudgetError} when it would take the
   * answers held past the bound while others are held.
   *
   * @example
   * ```ts
   * const answers = new AnswerBudget();
   * const response = answers.response("{}", { status: 200, headers: {} });
   * ```
   */
  response(text: string, init: ResponseInit & { headers: Record<string, string> }): Response {
    if (text.length <= COUNTED_ANSWER_CHARS) return new Response(text, init);
    // A UTF-8 text has at least as many bytes as characters: refused before it is encoded.
    this.#check(text.length);
    const bytes = encoder.encode(text);
    this.#check(bytes.length);
    this.#held += bytes.length;
    const headers = { ...init.headers, "Content-Length": String(bytes.length) };
    return new Response(this.#stream(bytes), { ...init, headers });
  }

  #check(bytes: number): void {
    if (this.#held > 0 && this.#held + bytes > this.#maxBytes) {
      throw new AnswerBudgetError(bytes, this.#held, this.#maxBytes);
    }
  }

  /**
   * `bytes` as a stream pulled a chunk at a time, whose bytes leave the count once the last
   * is taken or the stream is cancelled: `Deno.serve` cancels it when the client goes away,
   * when the request was a HEAD, or when the connection closes with the answer unsent.
   */
  #stream(bytes: Uint8Array): ReadableStream<Uint8Array> {
    let offset = 0;
    let counted = true;
    const release = () => {
      if (!counted) return;
      counted = false;
      this.#held -= bytes.length;
      invariant(this.#held >= 0, "answers held are never below zero");
    };
    return new ReadableStream<Uint8Array>({
      pull: (controller) => {
        if (offset >= bytes.length) {
          release();
          controller.close();
          return;
        }
        const end = Math.min(offset + ANSWER_CHUNK_BYTES, bytes.length);
        controller.enqueue(bytes.subarray(offset, end));
        offset = end;
      },
      cancel: release,
    }, { highWaterMark: 0 });
  }
}
