/* tern — blocking socket-style API, the way RUDP/SRUDP-style libraries are
 * used from C: listen, accept, connect, send, recv, close, each call
 * blocking the calling thread (with a timeout where waiting for the peer).
 * Built on tern/handle.h; a socket is one session, and its messages travel
 * on stream 0 with message semantics: one send is one recv on the other
 * side, 1 byte to 64 MiB, in order, never merged or split. Datagrams that
 * reach a socket are discarded.
 *
 *   server                                  client
 *   tern_socket_listen(e, 7, &ls)           tern_socket_connect(e, &addr, 7, key,
 *   tern_socket_accept(ls, T, &s)                               T, &s, &why)
 *   n = tern_socket_recv(s, buf, cap, T)    tern_socket_send(s, "hi", 2)
 *   tern_socket_send(s, buf, n)             n = tern_socket_recv(s, buf, cap, T)
 *   tern_socket_close(s)                    tern_socket_close(s)
 *
 * Errors are negative TERN_E* codes: TERN_ETIMEDOUT (nothing within the
 * timeout), TERN_ECLOSED (the session ended: tern_socket_reason says why,
 * including the peer's close code and reason), TERN_ETOOBIG (recv's buffer
 * is too small: tern_socket_next_size says what is needed, nothing is
 * lost). Timeouts are in microseconds; TERN_FOREVER waits without bound. */
#ifndef TERN_SOCKET_H
#define TERN_SOCKET_H

#include <sys/types.h>

#include "tern/handle.h"

#ifdef __cplusplus
extern "C" {
#endif

struct tern_socket;
struct tern_socket_listener;

/* Listens on vport (stream type 0) of a started engine. Returns 0,
 * TERN_EINVAL (something already listens there), TERN_ENOMEM. */
int tern_socket_listen(struct tern_engine *e, uint16_t vport, struct tern_socket_listener **out);
/* Waits up to timeout_us for a client. Returns 0, TERN_ETIMEDOUT,
 * TERN_ECLOSED (the listener was closed), TERN_ENOMEM. */
int tern_socket_accept(struct tern_socket_listener *ls, uint64_t timeout_us,
                       struct tern_socket **out);
/* Stops listening and refuses the clients not yet accepted. NULL is fine. */
void tern_socket_listener_close(struct tern_socket_listener *ls);

/* Connects to the server at addr (its UDP port) on vport, authenticating it
 * by its public key, waiting up to timeout_us. why (may be NULL) says why a
 * connect failed. Returns 0, TERN_ETIMEDOUT, TERN_ECLOSED (refused:
 * why->code is a TERN_CONNECT_*), TERN_EINVAL, TERN_ESTATE (engine not
 * started), TERN_EAGAIN, TERN_ENOMEM. */
int tern_socket_connect(struct tern_engine *e, const struct tern_addr *addr, uint16_t vport,
                        const uint8_t server_key[TERN_KEY_LEN], uint64_t timeout_us,
                        struct tern_socket **out, struct tern_reason *why);

/* Sends one message (copied), blocking while the handle's send ring is full.
 * Returns 0, TERN_ECLOSED, TERN_ETOOBIG (over 64 MiB), TERN_EINVAL (empty),
 * TERN_ENOMEM. */
int tern_socket_send(struct tern_socket *s, const void *buf, size_t len);
/* Receives one message into buf, waiting up to timeout_us. Returns its
 * length (at least 1), 0 once when the peer has finished its stream (end of
 * data, as read(2) returns 0; the session may stay open for sending),
 * TERN_ETIMEDOUT (TERN_EAGAIN with timeout_us 0), TERN_ETOOBIG (cap too
 * small; the message stays queued), TERN_ECLOSED (every message has been
 * read and the session ended). */
ssize_t tern_socket_recv(struct tern_socket *s, void *buf, size_t cap, uint64_t timeout_us);
/* The length of the message the next recv returns; 0 if none is queued. */
size_t tern_socket_next_size(struct tern_socket *s);
/* Why the session ended. Returns 0, or TERN_ESTATE while it is open. */
int tern_socket_reason(const struct tern_socket *s, struct tern_reason *out);
/* The handle underneath (datagrams, other streams, stats, abort). */
struct tern_handle *tern_socket_handle(struct tern_socket *s);
/* Closes gracefully (what was sent is delivered first) and frees s.
 * Returns 0, or TERN_ECLOSED if the session had already ended (s is freed
 * either way). NULL is fine. */
int tern_socket_close(struct tern_socket *s);

#ifdef __cplusplus
}
#endif
#endif
