/* tern — error codes shared by every public and internal function.
 *
 * Local errors are negative TERN_E* values returned by functions; they never
 * travel on the wire. Wire close codes (what a CLOSE frame carries) live in a
 * separate space: see TERN_CLOSE_* below and docs/protocol.md §10. */
#ifndef TERN_ERROR_H
#define TERN_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

enum tern_err {
	TERN_OK = 0,
	TERN_EINVAL = -1,        /* bad argument (API misuse) */
	TERN_ENOMEM = -2,        /* allocation failed or a pool is exhausted */
	TERN_EAGAIN = -3,        /* would block: flow control or a full queue */
	TERN_EMALFORMED = -4,    /* wire input does not parse */
	TERN_ELIMIT = -5,        /* a protocol or configured limit was exceeded */
	TERN_ECRYPTO = -6,       /* authentication failed / crypto library error */
	TERN_ECLOSED = -7,       /* the session or stream is closed */
	TERN_ESTATE = -8,        /* call not valid in the current state */
	TERN_ETOOBIG = -9,       /* message or datagram larger than allowed */
	TERN_ETIMEDOUT = -10,    /* idle timeout or handshake timeout */
	TERN_EPROTO = -11,       /* peer violated the protocol */
	TERN_EFLOWCONTROL = -12, /* peer exceeded advertised credit */
	TERN_ENOSPC = -13,       /* output buffer too small */
};

/* Returns a static, human-readable description of a TERN_E* code. Never NULL. */
const char *tern_strerror(int err);

/* On-wire close codes (CLOSE frame, transport space). Application codes are
 * carried in CLOSE_APP frames and are opaque to tern. */
enum tern_close_code {
	TERN_CLOSE_NO_ERROR = 0x0,
	TERN_CLOSE_INTERNAL = 0x1,
	TERN_CLOSE_PROTOCOL_VIOLATION = 0x2,
	TERN_CLOSE_FRAME_ENCODING = 0x3,
	TERN_CLOSE_FLOW_CONTROL = 0x4,
	TERN_CLOSE_STREAM_LIMIT = 0x5,
	TERN_CLOSE_FINAL_SIZE = 0x6,
	TERN_CLOSE_MESSAGE_TOO_BIG = 0x7,
	TERN_CLOSE_AEAD_LIMIT = 0x8,
	TERN_CLOSE_KEY_UPDATE = 0x9,
	TERN_CLOSE_IDLE_TIMEOUT = 0xa, /* never sent: reported locally */
	TERN_CLOSE_MEMORY = 0xb, /* the receiver's memory budget is spent (docs/protocol.md §7.4) */
};

/* Returns the name of a transport close code ("FLOW_CONTROL"), or "UNKNOWN". */
const char *tern_close_code_name(unsigned long long code);

#ifdef __cplusplus
}
#endif
#endif
