import assert from 'node:assert/strict';

type ErrorClass<E extends Error> = abstract new (...args: never[]) => E;

/** The error `fn` throws, asserted to be an `errorClass`. */
export function thrownBy<E extends Error>(fn: () => unknown, errorClass: ErrorClass<E>): E {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof errorClass, `expected a ${errorClass.name}, got ${String(err)}`);
    return err;
  }
  assert.fail(`expected a ${errorClass.name}`);
}

/** The error `promise` rejects with, asserted to be an `errorClass`. */
export async function rejectionOf<E extends Error>(promise: Promise<unknown>, errorClass: ErrorClass<E>): Promise<E> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof errorClass, `expected a ${errorClass.name}, got ${String(err)}`);
    return err;
  }
  assert.fail(`expected a ${errorClass.name}`);
}
