/** Options of one message. */
export interface SendOptions {
  /** Delivery delay in seconds; values above SQS's 900 are capped at 900 (callers re-arm longer waits). */
  readonly delaySeconds?: number;
  /** String message attributes (e.g. the id of the message a redrive re-sends). @default none */
  readonly attributes?: Readonly<Record<string, string>>;
}

/** A message queue that one consumer (a Lambda or a local poller) drains. Bound to one queue. */
export interface Queue {
  send(body: unknown, options?: SendOptions): Promise<void>;
  /** Sends many messages; implementations batch them. */
  sendMany(bodies: readonly unknown[]): Promise<void>;
}
