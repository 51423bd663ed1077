/**
 * @samsara/ray-common — ids, errors, resources, the value codec, config and logging shared by every
 * rayts package.
 *
 * @example
 * import { encodeValue, decodeValue } from '@samsara/ray-common';
 * decodeValue(encodeValue({ a: 1 })); // { a: 1 }
 */
export * from './errors.js';
export * from './ids.js';
export * from './resources.js';
export * from './object-ref.js';
export * from './ref-cache.js';
export * from './codec.js';
export * from './config.js';
export * from './logging.js';
export { isArrowTable, arrow, arrowLoaded } from './arrow.js';
