/**
 * koa-style middleware composition (Hono's `compose`): each middleware gets the context and `next`;
 * calling `next()` twice is an error. The proxy's chain is request id → errors → limits → route.
 */
export type Next = () => Promise<void>;
export type Middleware<C> = (ctx: C, next: Next) => Promise<void> | void;

export function compose<C>(middleware: readonly Middleware<C>[]): (ctx: C, last?: Next) => Promise<void> {
  return (ctx, last) => {
    let index = -1;
    const dispatch = async (i: number): Promise<void> => {
      if (i <= index) throw new Error('next() called multiple times');
      index = i;
      const fn = i === middleware.length ? last : middleware[i];
      if (!fn) return;
      await fn(ctx, () => dispatch(i + 1));
    };
    return dispatch(0);
  };
}
