/* Wire encode/decode: varints, the data packet header, packet-number
 * truncation and expansion, and every frame. Parsers take a cursor and an
 * end pointer and check every length before reading; on malformed input they
 * return TERN_EMALFORMED and leave the cursor unspecified. Encoders write into
 * a caller buffer and return the bytes written, or 0 when it does not fit. */
#ifndef TERN_WIRE_H
#define TERN_WIRE_H

#include "common.h"
#include "proto.h"

/* ---- varints (QUIC style: 2-bit length prefix, 1/2/4/8 bytes, 62 bits) ---- */

/* Returns the encoded size of v (1, 2, 4 or 8), or 0 when v > TERN_VARINT_MAX. */
size_t tern_varint_len(uint64_t v);
/* Writes v at p (caller checked space with tern_varint_len); returns p + len. */
uint8_t *tern_varint_put(uint8_t *p, uint64_t v);
/* Reads a varint at *p, advancing *p. Returns 0 or TERN_EMALFORMED (truncated). */
int tern_varint_get(const uint8_t **p, const uint8_t *end, uint64_t *v);

/* ---- packets ---- */

enum tern_pkt_kind {
	TERN_PKT_DATA = 1,
	TERN_PKT_HS_INITIATION,
	TERN_PKT_HS_RESPONSE,
	TERN_PKT_HS_COOKIE_REPLY,
	TERN_PKT_HS_REFUSAL,
};

/* Classifies a datagram by its first bytes. Returns a tern_pkt_kind, or
 * TERN_EMALFORMED (empty, unknown form or type, wrong major version, or
 * shorter than the smallest packet of that kind). */
int tern_wire_classify(const uint8_t *p, size_t len);

struct tern_data_hdr {
	uint8_t dcid[TERN_CID_LEN];
	uint8_t key_phase; /* 0 or 1 */
	uint8_t pn_len;    /* 1..4 */
	uint32_t pn_trunc; /* the truncated packet number as sent */
	size_t hdr_len;    /* bytes of header = associated data length */
};

/* Decodes a data packet header. Returns 0, or TERN_EMALFORMED when the form is
 * not data, the packet is shorter than header + AEAD tag, or reserved bits
 * are set. */
int tern_wire_data_hdr_decode(const uint8_t *p, size_t len, struct tern_data_hdr *h);

/* Encodes a data header for packet number pn, choosing the shortest pn length
 * that lets the peer recover pn given largest_acked (the largest pn the peer
 * has acknowledged, or UINT64_MAX if none). Returns bytes written or 0. */
size_t tern_wire_data_hdr_encode(uint8_t *p, size_t cap, const uint8_t dcid[TERN_CID_LEN],
                                 uint64_t pn, uint64_t largest_acked, unsigned key_phase);

/* Expands a truncated packet number (RFC 9000 A.3) given the largest pn
 * received so far in this session (UINT64_MAX if none). */
uint64_t tern_wire_pn_expand(uint64_t largest_rx, uint32_t trunc, unsigned pn_len);

/* ---- frames ---- */

struct tern_ack_range {
	uint64_t lo, hi; /* inclusive */
};

struct tern_frame {
	uint8_t type; /* enum tern_frame_type; STREAM frames report TERN_FRAME_STREAM */
	union {
		struct {
			uint64_t largest, delay_us, range_count, first_range;
			const uint8_t *ranges, *end; /* encoded (gap, len) pairs */
		} ack;
		struct {
			uint64_t id, offset;
			const uint8_t *data;
			size_t len;
			bool fin, msg_end;
		} stream;
		struct {
			uint64_t lane, seq; /* DATAGRAM_SEQ only */
			const uint8_t *data;
			size_t len;
		} dgram;
		struct {
			uint64_t code;
			const uint8_t *reason;
			size_t reason_len;
		} close; /* CLOSE and CLOSE_APP */
		struct {
			uint64_t id;  /* MAX_STREAM_DATA and STREAM_DATA_BLOCKED only */
			uint64_t max; /* MAX_DATA, MAX_STREAM_DATA, *_BLOCKED: the limit */
		} credit;
		struct {
			uint8_t data[TERN_PATH_DATA_LEN];
		} path;
		struct {
			uint64_t generation; /* key generation the sender moved to */
		} key_update;
	} u;
};

/* Decodes one frame at *p, advancing *p past it. Validates every field
 * against the limits in proto.h (stream id, offset + len ≤ 2^62, ACK ranges
 * that would go below 0, range count ≤ TERN_MAX_ACK_RANGES, datagram and
 * reason sizes). A run of PADDING bytes decodes as one PADDING frame.
 * Returns 0 or TERN_EMALFORMED. */
int tern_frame_decode(const uint8_t **p, const uint8_t *end, struct tern_frame *f);

/* Iterates the ranges of a decoded ACK frame, largest first. */
struct tern_ack_iter {
	const uint8_t *p, *end;
	uint64_t remaining;
	struct tern_ack_range cur;
	bool first;
};
void tern_ack_iter_init(struct tern_ack_iter *it, const struct tern_frame *ack);
/* Returns true and fills *r with the next (lower) range, false when done. */
bool tern_ack_iter_next(struct tern_ack_iter *it, struct tern_ack_range *r);

/* True if a frame of this type makes the receiver acknowledge the packet. */
bool tern_frame_is_ack_eliciting(uint8_t type);

/* Encoders. Each returns the bytes written, or 0 if cap is too small. */
size_t tern_frame_encode_padding(uint8_t *p, size_t cap, size_t n);
size_t tern_frame_encode_ping(uint8_t *p, size_t cap);
/* ranges: descending, non-overlapping, non-adjacent; writes as many as fit
 * (at least one, up to TERN_MAX_ACK_RANGES); *written tells how many. */
size_t tern_frame_encode_ack(uint8_t *p, size_t cap, const struct tern_ack_range *ranges, size_t n,
                             uint64_t delay_us, size_t *written);
/* Writes a STREAM frame header + up to len bytes of data; with has_len the
 * frame carries an explicit length (so more frames may follow), otherwise it
 * extends to the end of the packet. *data_len returns how many data bytes fit
 * (the caller sets msg_end/fin only if all of them fit: pass the flags that
 * hold if the whole len fits and the encoder clears them when it truncates). */
size_t tern_frame_encode_stream(uint8_t *p, size_t cap, uint64_t id, uint64_t off,
                                const uint8_t *data, size_t len, bool fin, bool msg_end,
                                bool has_len, size_t *data_len);
/* Upper bound of a STREAM frame header's size. */
size_t tern_frame_stream_overhead(uint64_t id, uint64_t off, size_t len);
size_t tern_frame_encode_datagram(uint8_t *p, size_t cap, const uint8_t *data, size_t len);
size_t tern_frame_encode_datagram_seq(uint8_t *p, size_t cap, uint64_t lane, uint64_t seq,
                                      const uint8_t *data, size_t len);
size_t tern_frame_encode_close(uint8_t *p, size_t cap, bool app, uint64_t code, const char *reason,
                               size_t reason_len);
/* type: MAX_DATA, MAX_STREAM_DATA, DATA_BLOCKED or STREAM_DATA_BLOCKED
 * (id ignored for the connection-level ones). */
size_t tern_frame_encode_credit(uint8_t *p, size_t cap, uint8_t type, uint64_t id, uint64_t max);
size_t tern_frame_encode_path(uint8_t *p, size_t cap, bool response,
                              const uint8_t data[TERN_PATH_DATA_LEN]);
size_t tern_frame_encode_key_update(uint8_t *p, size_t cap, uint64_t generation);

#endif
