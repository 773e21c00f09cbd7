/** A contract method: a zod schema for its single input object and a phantom output type. */
import type { z } from 'zod';

export interface Method<I extends z.ZodType, O> {
  input: I;
  /** Never set: carries the output type. */
  output?: O;
}

export const method = <O>() => <I extends z.ZodType>(input: I): Method<I, O> => ({ input });
