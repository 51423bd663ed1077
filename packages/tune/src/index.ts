/** @samsara/ray-tune — placeholder until the package lands. */
export {};
