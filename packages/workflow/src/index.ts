/** @samsara/ray-workflow — placeholder until the package lands. */
export {};
