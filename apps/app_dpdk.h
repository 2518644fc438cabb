/* The backend settings tern-server and tern-cat share (--backend, the
 * --dpdk-* flags and the EAL arguments after "--"): one parser and one set
 * of error messages, so both apps say the same thing about the same
 * mistake. Internal to the apps. */
#ifndef TERN_APPS_APP_DPDK_H
#define TERN_APPS_APP_DPDK_H

#include <stddef.h>
#include <stdint.h>

#include "tern/tern.h"

#define APP_DPDK_MAX_EAL 64

struct app_dpdk {
	enum tern_backend_kind backend;
	uint16_t port, vlan;
	uint8_t prefix4, prefix6;
	struct tern_addr addr2, gw4, gw6;
	const char *eal[APP_DPDK_MAX_EAL]; /* point into argv or a string the caller owns */
	unsigned neal;
};

/* Sets one setting by its flag name without "--": "backend", "dpdk-port",
 * "dpdk-addr2", "dpdk-prefix4", "dpdk-prefix6", "dpdk-gw4", "dpdk-gw6" or
 * "dpdk-vlan". Returns 0, or -1 with err saying what would be accepted. */
int app_dpdk_set(struct app_dpdk *d, const char *name, const char *v, char *err, size_t errlen);

/* Parses an address: 10.0.0.1, ::1 or [::1]. Returns 0 or -1. */
int app_dpdk_parse_addr(const char *v, struct tern_addr *out);

/* Splits s in place on spaces and tabs into EAL arguments (the INI key).
 * Returns 0, or -1 with err when there are more than APP_DPDK_MAX_EAL. */
int app_dpdk_split_eal(struct app_dpdk *d, char *s, char *err, size_t errlen);

/* The index of "--" in argv (argc when absent); the arguments after it
 * become d's EAL arguments. Returns -1 when there are too many. */
int app_dpdk_take_eal(struct app_dpdk *d, int argc, char **argv, int *dashdash);

/* Checks the combination before the engine starts: a DPDK backend in a
 * build without DPDK, a wildcard bind with DPDK, EAL arguments without
 * it. bind_flag names the flag that sets the address (for the fix).
 * Returns 0, or -1 with err. */
int app_dpdk_check(const struct app_dpdk *d, const struct tern_addr *bind, const char *bind_flag,
                   char *err, size_t errlen);

/* Copies the settings into an engine configuration. */
void app_dpdk_apply(const struct app_dpdk *d, struct tern_engine_cfg *ec);

#endif
