/* The wire protocol as data: every packet and frame type, every layout size
 * and every protocol limit, named in one place. docs/protocol.md is the prose
 * version of this file; keep the two in step. */
#ifndef TERN_PROTO_H
#define TERN_PROTO_H

#define TERN_PROTO_VERSION_MAJOR 1
#define TERN_PROTO_VERSION_MINOR 0

/* First byte of every packet: bits 7..6 are the packet form. */
#define TERN_FORM_MASK 0xc0
#define TERN_FORM_DATA 0x40      /* 01xx xxxx: data packet */
#define TERN_FORM_HANDSHAKE 0x80 /* 10xx xxxx: handshake packet */

/* Data packet first byte: 01 R R R K PP
 *   R: reserved, must be zero (authenticated: a peer that sets them fails open)
 *   K: key phase bit
 *   PP: packet-number length minus one (1..4 bytes) */
#define TERN_DATA_RESERVED_MASK 0x38
#define TERN_DATA_KEY_PHASE 0x04
#define TERN_DATA_PN_LEN_MASK 0x03

/* Handshake packet first byte: 10 00 TTTT, T = message type. Second byte is
 * the protocol major version. The body belongs to the handshake (issue 3). */
#define TERN_HS_TYPE_MASK 0x0f
#define TERN_HS_INITIATION 0x1
#define TERN_HS_RESPONSE 0x2
#define TERN_HS_COOKIE_REPLY 0x3
#define TERN_HS_REFUSAL 0x4
#define TERN_HS_HEADER_LEN 2
/* Version 1's responses, cookie replies and refusals have one size each
 * (docs/handshake.md); a handshake packet of another size is dropped where
 * it arrives, before it costs a copy, a ring slot or a wake-up. */
#define TERN_HS_RESP_LEN 130
#define TERN_HS_COOKIE_REPLY_LEN 66
#define TERN_HS_REFUSAL_LEN 43

#define TERN_CID_LEN 8
#define TERN_DATA_HEADER_MIN (1 + TERN_CID_LEN + 1)
#define TERN_DATA_HEADER_MAX (1 + TERN_CID_LEN + 4)
#define TERN_AEAD_TAG_LEN 16

/* Packet sizes (UDP payload). */
#define TERN_MIN_UDP_PAYLOAD 1200 /* every path must carry this much */
#define TERN_MAX_UDP_PAYLOAD 1472 /* 1500-byte Ethernet MTU, IPv4 */
#define TERN_MAX_PACKET 1500      /* buffer size for one packet */

/* Frame types (one byte). */
enum tern_frame_type {
	TERN_FRAME_PADDING = 0x00,
	TERN_FRAME_PING = 0x01,
	TERN_FRAME_ACK = 0x02,
	TERN_FRAME_CLOSE = 0x03,     /* transport close: code is a TERN_CLOSE_* */
	TERN_FRAME_CLOSE_APP = 0x04, /* application close: code is the app's */
	TERN_FRAME_MAX_DATA = 0x05,
	TERN_FRAME_MAX_STREAM_DATA = 0x06,
	TERN_FRAME_DATA_BLOCKED = 0x07,
	TERN_FRAME_STREAM = 0x08, /* 0x08..0x0f: low bits are flags below */
	TERN_FRAME_DATAGRAM = 0x10,
	TERN_FRAME_DATAGRAM_SEQ = 0x11,
	TERN_FRAME_PATH_CHALLENGE = 0x12,
	TERN_FRAME_PATH_RESPONSE = 0x13,
	TERN_FRAME_KEY_UPDATE = 0x14,
	TERN_FRAME_STREAM_DATA_BLOCKED = 0x15,
};
#define TERN_FRAME_STREAM_MASK 0xf8
#define TERN_STREAM_FIN 0x01     /* this frame's end is the stream's final size */
#define TERN_STREAM_MSG_END 0x02 /* this frame's last byte ends a message */
#define TERN_STREAM_LEN 0x04     /* a length field is present */

/* Limits. A receiver enforces each; docs/protocol.md §11 says what breaking
 * each one costs the sender. */
#define TERN_VARINT_MAX ((1ull << 62) - 1)
#define TERN_MAX_STREAMS 1024        /* stream ids 0..1023 per session */
#define TERN_MAX_MESSAGE (64u << 20) /* 64 MiB per reliable message */
#define TERN_MAX_DATAGRAM 1400       /* one datagram frame's payload */
#define TERN_MAX_DGRAM_LANES 256     /* unreliable-sequenced lanes */
#define TERN_MAX_ACK_RANGES 256      /* ranges one ACK frame may carry */
#define TERN_MAX_CLOSE_REASON 256    /* bytes of CLOSE reason */
#define TERN_PATH_DATA_LEN 8

/* Reliability constants after RFC 9002. */
#define TERN_PACKET_THRESHOLD 3
#define TERN_MAX_PACKET_THRESHOLD 32 /* adaptive reordering threshold cap */
#define TERN_TIME_THRESHOLD_NUM 9
#define TERN_TIME_THRESHOLD_DEN 8
#define TERN_GRANULARITY_US 1000
#define TERN_INITIAL_RTT_US 100000
#define TERN_PERSISTENT_CONGESTION_THRESHOLD 3
#define TERN_ACK_ELICITING_THRESHOLD 2
#define TERN_DEFAULT_MAX_ACK_DELAY_US 25000

/* Path validation (docs/protocol.md §6.10). Until an address is validated a
 * sender sends it at most AMP_FACTOR times the bytes received from it; it
 * tries CHALLENGE_TRIES PATH_CHALLENGEs, max(PTO, MIN_RETRY) apart, and
 * gives up CHALLENGE_TRIES retry intervals after the first. */
#define TERN_PATH_AMP_FACTOR 3
#define TERN_PATH_CHALLENGE_TRIES 3
#define TERN_PATH_MIN_RETRY_US (3 * TERN_INITIAL_RTT_US)

/* Optimistic-ACK defence (§8.4): a sender leaves one packet number unused
 * every PN_SKIP_MIN..PN_SKIP_MAX packets, uniformly at random. */
#define TERN_PN_SKIP_MIN 256
#define TERN_PN_SKIP_MAX 2048

#endif
