/* tern — network addresses as the library passes them around: a small, flat
 * value type (no sockaddr casts on the data path). */
#ifndef TERN_ADDR_H
#define TERN_ADDR_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct tern_addr {
	uint8_t family; /* 4 or 6; 0 = unset */
	uint8_t pad;
	uint16_t port;  /* host byte order */
	uint8_t ip[16]; /* IPv4 uses ip[0..3] */
};

#ifdef __cplusplus
}
#endif
#endif
