/* tern-server's and tern-cat's backend settings: --backend uring|dpdk, the
 * --dpdk-* flags (and tern-server's INI keys, through the same setter) and
 * the EAL arguments that follow "--" as in any DPDK application. Checked
 * together before the engine starts, so a missing DPDK build or a wildcard
 * address is refused with the fix, not with an engine error. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps/app_dpdk.h"

static int failf(char *err, size_t errlen, const char *msg)
{
	snprintf(err, errlen, "%s", msg);
	return -1;
}

static int parse_num(const char *v, unsigned long lo, unsigned long hi, unsigned long *out)
{
	char *end;

	if (!v || !*v || *v == '-' || *v == '+')
		return -1;
	*out = strtoul(v, &end, 10);
	return *end == '\0' && *out >= lo && *out <= hi ? 0 : -1;
}

int app_dpdk_parse_addr(const char *v, struct tern_addr *out)
{
	char buf[INET6_ADDRSTRLEN + 2];
	size_t n = strlen(v);

	memset(out, 0, sizeof(*out));
	if (n >= 2 && n < sizeof(buf) && v[0] == '[' && v[n - 1] == ']') {
		memcpy(buf, v + 1, n - 2);
		buf[n - 2] = '\0';
		v = buf;
	}
	if (inet_pton(AF_INET, v, out->ip) == 1)
		return out->family = 4, 0;
	if (inet_pton(AF_INET6, v, out->ip) == 1)
		return out->family = 6, 0;
	return -1;
}

static int set_backend(struct app_dpdk *d, const char *v, char *err, size_t errlen)
{
	if (strcmp(v, "uring") == 0)
		return d->backend = TERN_BACKEND_URING, 0;
	if (strcmp(v, "dpdk") == 0)
		return d->backend = TERN_BACKEND_DPDK, 0;
	return failf(err, errlen, "expected uring or dpdk");
}

static int set_gw(struct tern_addr *gw, int family, const char *v, char *err, size_t errlen)
{
	if (app_dpdk_parse_addr(v, gw) < 0 || gw->family != family)
		return failf(err, errlen,
		             family == 4 ? "expected an IPv4 gateway address like 10.0.0.254"
		                         : "expected an IPv6 gateway address like fe80::1");
	return 0;
}

static int set_number(struct app_dpdk *d, const char *name, const char *v, char *err, size_t errlen)
{
	unsigned long n;

	if (strcmp(name, "dpdk-port") == 0) {
		if (parse_num(v, 0, 65535, &n) < 0)
			return failf(err, errlen, "expected an ethdev port index from 0 to 65535");
		return d->port = (uint16_t)n, 0;
	}
	if (strcmp(name, "dpdk-vlan") == 0) {
		if (parse_num(v, 0, 4094, &n) < 0)
			return failf(err, errlen,
			             "expected a VLAN ID from 1 to 4094, or 0 for none");
		return d->vlan = (uint16_t)n, 0;
	}
	if (strcmp(name, "dpdk-prefix4") == 0) {
		if (parse_num(v, 1, 32, &n) < 0)
			return failf(err, errlen, "expected an IPv4 prefix length from 1 to 32");
		return d->prefix4 = (uint8_t)n, 0;
	}
	if (parse_num(v, 1, 128, &n) < 0)
		return failf(err, errlen, "expected an IPv6 prefix length from 1 to 128");
	return d->prefix6 = (uint8_t)n, 0;
}

int app_dpdk_set(struct app_dpdk *d, const char *name, const char *v, char *err, size_t errlen)
{
	if (strcmp(name, "backend") == 0)
		return set_backend(d, v, err, errlen);
	if (strcmp(name, "dpdk-addr2") == 0) {
		if (app_dpdk_parse_addr(v, &d->addr2) < 0)
			return failf(err, errlen,
			             "expected an IPv4 or IPv6 address (of the other family than "
			             "the bind address)");
		return 0;
	}
	if (strcmp(name, "dpdk-gw4") == 0)
		return set_gw(&d->gw4, 4, v, err, errlen);
	if (strcmp(name, "dpdk-gw6") == 0)
		return set_gw(&d->gw6, 6, v, err, errlen);
	if (strcmp(name, "dpdk-port") == 0 || strcmp(name, "dpdk-vlan") == 0 ||
	    strcmp(name, "dpdk-prefix4") == 0 || strcmp(name, "dpdk-prefix6") == 0)
		return set_number(d, name, v, err, errlen);
	return failf(err, errlen, "unknown backend setting");
}

int app_dpdk_split_eal(struct app_dpdk *d, char *s, char *err, size_t errlen)
{
	char *save = NULL, *tok;

	d->neal = 0;
	for (tok = strtok_r(s, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
		if (d->neal == APP_DPDK_MAX_EAL)
			return failf(err, errlen, "more than 64 EAL arguments");
		d->eal[d->neal++] = tok;
	}
	return 0;
}

int app_dpdk_take_eal(struct app_dpdk *d, int argc, char **argv, int *dashdash)
{
	int i;

	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		;
	*dashdash = i;
	if (i == argc)
		return 0;
	if (argc - i - 1 > APP_DPDK_MAX_EAL)
		return -1;
	d->neal = 0;
	for (i++; i < argc; i++)
		d->eal[d->neal++] = argv[i];
	return 0;
}

static bool is_wildcard(const struct tern_addr *a)
{
	static const uint8_t zero[16];

	return a->family == 0 || memcmp(a->ip, zero, a->family == 4 ? 4 : 16) == 0;
}

int app_dpdk_check(const struct app_dpdk *d, const struct tern_addr *bind, const char *bind_flag,
                   char *err, size_t errlen)
{
	if (d->backend == TERN_BACKEND_URING) {
		if (d->neal)
			return failf(err, errlen,
			             "EAL arguments after '--' apply only with --backend dpdk");
		return 0;
	}
#ifndef TERN_HAVE_DPDK
	(void)bind;
	(void)bind_flag;
	return failf(err, errlen,
	             "--backend dpdk: this build has no DPDK (libdpdk not found at configure "
	             "time; install libdpdk-dev and reconfigure with meson -Ddpdk=enabled)");
#else
	if (is_wildcard(bind)) {
		snprintf(err, errlen,
		         "--backend dpdk needs the port's own address: give %s ADDR (e.g. %s "
		         "10.0.0.1); a wildcard address is refused, the kernel does not route "
		         "for DPDK",
		         bind_flag, bind_flag);
		return -1;
	}
	if (d->addr2.family && d->addr2.family == bind->family)
		return failf(err, errlen,
		             "--dpdk-addr2 must be of the other family than the bind address");
	return 0;
#endif
}

void app_dpdk_apply(const struct app_dpdk *d, struct tern_engine_cfg *ec)
{
	ec->backend = d->backend;
	if (d->backend != TERN_BACKEND_DPDK)
		return;
	ec->eal_args = d->eal;
	ec->neal_args = d->neal;
	ec->dpdk_port = d->port;
	ec->dpdk_addr2 = d->addr2;
	ec->dpdk_prefix4 = d->prefix4;
	ec->dpdk_prefix6 = d->prefix6;
	ec->dpdk_gw4 = d->gw4;
	ec->dpdk_gw6 = d->gw6;
	ec->dpdk_vlan = d->vlan;
}
