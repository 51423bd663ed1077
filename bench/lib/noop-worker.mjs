/** piscina worker: a no-op task returning a 2-byte value, like Ray's `small_value`. */
export default function noop() {
  return 'ok';
}
