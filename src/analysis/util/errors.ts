/** An error caused by what the user gave us (a file, a flag, a layer name): shown as one line. */
export class BadInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BadInputError';
  }
}

/** Thrown at a step boundary when the caller cancelled; finished stages are already saved. */
export class CancelledError extends Error {
  constructor(message = 'cancelled') {
    super(message);
    this.name = 'CancelledError';
  }
}
