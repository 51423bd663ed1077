/** @samsara/ray-serve — placeholder until the package lands. */
export {};
