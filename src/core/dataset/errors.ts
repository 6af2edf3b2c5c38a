// The error the dataset tools raise for bad input: one sentence saying what is wrong.
export class DatasetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatasetError';
  }
}
