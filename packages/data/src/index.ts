/** @samsara/ray-data — placeholder until the package lands. */
export {};
