// Package cbor is a small CBOR (RFC 8949) encoder and decoder for the sensor modules.
//
// It covers what the module ABI exchanges (docs/module-abi.md): maps with text keys,
// integers, floats, text, booleans, null and arrays. It uses no reflection and no
// fmt, so TinyGo builds it, and it never allocates on its own: the encoder appends
// to a caller-provided []byte and the decoder fills a caller-provided []Value.
//
// # Encoding
//
// Append-style, one call per item: AppendMapHeader(dst, n) starts a map of n pairs, then
// the caller appends n keys and values alternately (AppendText, AppendInt, AppendUint,
// AppendNegative, AppendFloat, AppendBool, AppendNull, AppendBytes, AppendArrayHeader).
// Encoding is RFC 8949 section 4.2.1 "preferred serialization": every head uses the
// shortest argument, and every float the shortest of float16/32/64 that holds the
// value exactly (21.5 -> f9 4d 60). Lengths are always definite.
//
// # Decoding
//
// Parse(data, buf) decodes one item into a flat []Value in document order (a container is
// followed by its items; Value.End skips a subtree). Doc.Map iterates a map's pairs,
// Doc.Lookup finds a text key, Doc.Items lists an array's items; Value.Int64, Value.Float64
// and Value.IsText read scalars. Text and byte strings alias the input. Parse refuses
// indefinite lengths, tags, invalid UTF-8 and nesting deeper than MaxDepth, and never
// panics on any input (FuzzParse).
package cbor
