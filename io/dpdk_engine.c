/* The engine on the DPDK backend (see io/dpdk_engine.h): the engine's
 * configuration becomes a tern_dpdk_cfg and each worker polls its own queue
 * pair in the engine's one worker loop (io/engine.c); the backend's wait op
 * naps on the worker's wake-up eventfd, since a NIC has no completion to
 * sleep on. */
#include <errno.h>
#include <sys/eventfd.h>

#include "io/dpdk.h"
#include "io/dpdk_engine.h"

static int fail(struct tern_engine *e, int rc, const char *msg)
{
	snprintf(e->err, sizeof(e->err), "%s", msg);
	return rc;
}

static void to_dpdk_cfg(const struct tern_engine_cfg *c, unsigned n, struct tern_dpdk_cfg *d)
{
	memset(d, 0, sizeof(*d));
	d->eal_args = c->eal_args;
	d->neal_args = c->neal_args;
	d->port_id = c->dpdk_port;
	d->queues = n;
	d->cores = c->cores;
	d->ncores = c->ncores;
	if (c->bind.family == 4)
		d->addr4 = c->bind;
	if (c->bind.family == 6)
		d->addr6 = c->bind;
	if (c->dpdk_addr2.family == 4 && c->bind.family == 6)
		d->addr4 = c->dpdk_addr2;
	if (c->dpdk_addr2.family == 6 && c->bind.family == 4)
		d->addr6 = c->dpdk_addr2;
	d->gw4 = c->dpdk_gw4;
	d->gw6 = c->dpdk_gw6;
	d->prefix4 = c->dpdk_prefix4;
	d->prefix6 = c->dpdk_prefix6;
	d->udp_port = c->bind.port;
	d->vlan = c->dpdk_vlan;
}

int tern_engine_dpdk_open(struct tern_engine *e)
{
	struct tern_dpdk_cfg d;
	struct tern_dpdk_port *p;
	char warn[512], err[256];
	int rc;

	if (e->cfg.bind.family != 4 && e->cfg.bind.family != 6)
		return fail(e, TERN_EINVAL,
		            "backend dpdk: bind must be the port's own IPv4 or IPv6 address (the "
		            "DPDK backend answers ARP and ND for it; a wildcard cannot be served)");
	to_dpdk_cfg(&e->cfg, e->n, &d);
	rc = tern_dpdk_open(&d, &p, warn, sizeof(warn), err, sizeof(err));
	if (rc < 0)
		return fail(e, rc, err);
	if (*warn && e->cfg.log)
		e->cfg.log(e->cfg.log_ctx, TERN_LOG_WARN, warn);
	e->dpdk = p;
	e->port = tern_dpdk_udp_port(p);
	e->local = e->cfg.bind;
	e->local.port = e->port;
	return 0;
}

int tern_engine_dpdk_slot(struct tern_engine *e, struct wslot *ws, unsigned i,
                          struct tern_worker_cfg *wc)
{
	wc->ops = &tern_dpdk_backend_ops;
	wc->be = tern_dpdk_queue(e->dpdk, i);
	ws->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (ws->efd < 0)
		return fail(e, TERN_ENOMEM, "eventfd: out of file descriptors");
	if (!wc->be)
		return fail(e, TERN_EINVAL, "backend dpdk: no queue for this worker");
	tern_dpdk_queue_watch_wakeup(wc->be, ws->efd);
	return 0;
}

void tern_engine_dpdk_close(struct tern_engine *e)
{
	tern_dpdk_close(e->dpdk);
	e->dpdk = NULL;
}

size_t tern_engine_dpdk_stats(struct tern_engine *e, char *buf, size_t len)
{
	if (!e->dpdk) {
		if (len)
			buf[0] = '\0';
		return 0;
	}
	return tern_dpdk_stats_text(e->dpdk, buf, len);
}
