/* The public ticket calls (tern/tern.h) over crypto/token.c. */
#include "tern/tern.h"
#include "token.h"

int tern_ticket_mint(const uint8_t key[TERN_TICKET_KEY_LEN], uint64_t pid, uint64_t expiry,
                     const uint8_t client_pub[TERN_KEY_LEN], uint8_t *out, size_t cap)
{
	return tern_token_mint(key, pid, expiry, client_pub, NULL, out, cap);
}

int tern_ticket_verify(const uint8_t key[TERN_TICKET_KEY_LEN], const uint8_t *ticket, size_t len,
                       uint64_t now, const uint8_t client_pub[TERN_KEY_LEN], uint64_t *pid,
                       uint64_t *expiry)
{
	return tern_token_verify(key, ticket, len, now, client_pub, pid, expiry);
}
