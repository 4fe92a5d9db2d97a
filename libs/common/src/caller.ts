/** Who asked for a change: the actor recorded in history, and the request id its jobs remember. */
export interface Caller {
  /** The name of the API token that made the request. */
  actor: string;
  requestId?: string;
}
