package rawsys

// OptionValue returns buf resized to n zero bytes, reusing its array when
// it has room. The kernel copies a socket option's value during the call,
// so an owner that sets options one at a time can encode every value into
// one buffer this way instead of allocating one per call (a burst of joins
// would leave each as garbage the heap grows into).
func OptionValue(buf []byte, n int) []byte {
	if cap(buf) < n {
		return make([]byte, n)
	}
	buf = buf[:n]
	clear(buf)
	return buf
}
