// Domain errors carry what the user can act on; the tRPC layer maps them to status codes once.

export class NotFoundError extends Error {
  constructor(what: string, key: string) {
    super(`${what} "${key}" does not exist`);
  }
}

export class InvalidInputError extends Error {
  constructor(readonly field: string, message: string) {
    super(`${field}: ${message}`);
  }
}

export class ConflictError extends Error {}

/** The caller is known but may not do this (a key limited to other surfaces). */
export class ForbiddenError extends Error {}
