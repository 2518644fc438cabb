/* Human-readable names for local error codes and on-wire close codes.
 *
 * Two separate tables because the two spaces are separate (include/tern/
 * error.h): TERN_E* values are negative and never travel, close codes are
 * non-negative varints carried by CLOSE frames. Both are indexed by value so
 * that adding a code is one line and a lookup is a bounds check. */
#include "tern/error.h"

#include <stddef.h>

static const char *const err_names[] = {
        [0] = "success",
        [-TERN_EINVAL] = "invalid argument",
        [-TERN_ENOMEM] = "out of memory",
        [-TERN_EAGAIN] = "resource temporarily unavailable",
        [-TERN_EMALFORMED] = "malformed wire input",
        [-TERN_ELIMIT] = "protocol or configured limit exceeded",
        [-TERN_ECRYPTO] = "authentication or crypto failure",
        [-TERN_ECLOSED] = "session or stream closed",
        [-TERN_ESTATE] = "operation not valid in the current state",
        [-TERN_ETOOBIG] = "message or datagram too big",
        [-TERN_ETIMEDOUT] = "timed out",
        [-TERN_EPROTO] = "peer violated the protocol",
        [-TERN_EFLOWCONTROL] = "peer exceeded flow-control credit",
        [-TERN_ENOSPC] = "output buffer too small",
};

const char *tern_strerror(int err)
{
	if (err > 0 || err < -(int)(sizeof(err_names) / sizeof(err_names[0]) - 1) ||
	    err_names[-err] == NULL)
		return "unknown error";
	return err_names[-err];
}

static const char *const close_names[] = {
        [TERN_CLOSE_NO_ERROR] = "NO_ERROR",
        [TERN_CLOSE_INTERNAL] = "INTERNAL",
        [TERN_CLOSE_PROTOCOL_VIOLATION] = "PROTOCOL_VIOLATION",
        [TERN_CLOSE_FRAME_ENCODING] = "FRAME_ENCODING",
        [TERN_CLOSE_FLOW_CONTROL] = "FLOW_CONTROL",
        [TERN_CLOSE_STREAM_LIMIT] = "STREAM_LIMIT",
        [TERN_CLOSE_FINAL_SIZE] = "FINAL_SIZE",
        [TERN_CLOSE_MESSAGE_TOO_BIG] = "MESSAGE_TOO_BIG",
        [TERN_CLOSE_AEAD_LIMIT] = "AEAD_LIMIT",
        [TERN_CLOSE_KEY_UPDATE] = "KEY_UPDATE",
        [TERN_CLOSE_IDLE_TIMEOUT] = "IDLE_TIMEOUT",
        [TERN_CLOSE_MEMORY] = "MEMORY",
};

const char *tern_close_code_name(unsigned long long code)
{
	if (code >= sizeof(close_names) / sizeof(close_names[0]) || close_names[code] == NULL)
		return "UNKNOWN";
	return close_names[code];
}
