/* The engine's public functions (tern/tern.h): configuration, creation of
 * the sockets, rings and control plane, start, graceful stop, listeners,
 * connects, and key helpers. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine.h"
#include "io/dpdk_engine.h"
#include "crypto/encode.h"
#include "crypto/random.h"

#define RING_SLOTS 4096
#define DEFAULT_MAX_MEMORY (1ull << 30) /* when physical memory is unknown */

void tern_engine_cfg_default(struct tern_engine_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->workers = 1;
	c->control_core = -1;
	c->gso = c->gro = true;
	c->socket_buffer = 4 << 20;
	c->cc = "bbr";
	c->max_streams = 16;
	c->stream_window = 256 << 10;
	c->conn_window = 1 << 20;
	c->send_buffer = 256 << 10;
	c->idle_timeout_us = 30 * TERN_SEC;
	c->keepalive_us = 15 * TERN_SEC;
	c->handshake_timeout_us = 10 * TERN_SEC;
	c->handshake_queue_depth = 1024;
	c->handshake_rate = 20;
	c->handshake_burst = 10;
	c->handshake_source_rate = 100;
	c->handshake_source_burst = 100;
	c->handshake_busy_pct = 50;
	c->max_half_open = 1024;
	c->max_sessions_per_source = 1024;
	c->max_sessions = 65536;
}

static int fail(struct tern_engine *e, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->err, sizeof(e->err), fmt, ap);
	va_end(ap);
	return rc;
}

static int check_cfg(struct tern_engine *e, const struct tern_engine_cfg *c)
{
	if (c->workers == 0 || c->workers > 64)
		return fail(e, TERN_EINVAL, "workers: %u is out of range; use 1 to 64", c->workers);
	if (c->inline_mode && (c->workers != 1 || c->backend != TERN_BACKEND_URING))
		return fail(e, TERN_EINVAL,
		            "inline_mode: the calling thread is the one worker; set workers to 1 "
		            "and use the io_uring backend");
	if (c->cc && !tern_cc_find(c->cc))
		return fail(e, TERN_EINVAL, "cc: unknown algorithm '%s'; use cubic, newreno or bbr",
		            c->cc);
	if (c->bind.family && c->bind.family != 4 && c->bind.family != 6)
		return fail(e, TERN_EINVAL, "bind: family must be 4, 6 or 0 (dual-stack)");
	if (c->ticket_required && !c->ticket_key)
		return fail(e, TERN_EINVAL, "ticket_required needs a ticket_key");
	if (c->backend != TERN_BACKEND_URING && c->backend != TERN_BACKEND_DPDK)
		return fail(e, TERN_EINVAL, "backend: unknown kind %d; use uring or dpdk",
		            (int)c->backend);
	if (c->max_sessions == 0 || c->handshake_timeout_us == 0)
		return fail(e, TERN_EINVAL,
		            "max_sessions and handshake_timeout_us must be positive");
	if (c->handshake_queue_depth == 0 || c->handshake_rate == 0 || c->handshake_burst == 0 ||
	    c->handshake_rate > 1000000)
		return fail(e, TERN_EINVAL,
		            "handshake_queue_depth, handshake_rate (up to 1000000) "
		            "and handshake_burst must be positive");
	if (c->handshake_source_rate == 0 || c->handshake_source_burst == 0 ||
	    c->handshake_source_rate > 1000000 || c->max_half_open == 0 ||
	    c->max_sessions_per_source == 0 || c->handshake_busy_pct > 100)
		return fail(e, TERN_EINVAL,
		            "handshake_source_rate (up to 1000000), handshake_source_burst, "
		            "max_half_open and max_sessions_per_source must be positive, "
		            "handshake_busy_pct at most 100");
	return 0;
}

static int open_socket(struct tern_engine *e, struct wslot *ws, unsigned i)
{
	struct tern_uring_cfg uc;
	char err[256] = "";
	uint16_t port = 0;
	int rc;

	tern_uring_cfg_default(&uc);
	uc.addr = e->cfg.bind;
	if (!uc.addr.family)
		uc.addr = (struct tern_addr){.family = 6}; /* [::], dual-stack */
	uc.addr.port = i ? e->port : e->cfg.bind.port;
	uc.v6only = e->cfg.ipv6_only;
	uc.reuseport = e->n > 1;
	uc.gso = e->cfg.gso;
	uc.gro = e->cfg.gro;
	uc.sqpoll = e->cfg.sqpoll;
	uc.direct_rx = e->cfg.latency_mode; /* busy polling: the shortest receive path */
	uc.rcvbuf = uc.sndbuf = (int)TERN_MIN(e->cfg.socket_buffer, (size_t)INT_MAX / 2);
	rc = tern_uring_open(&uc, &ws->u, &port, err, sizeof(err));
	if (rc < 0)
		return fail(e, rc, "worker %u socket: %s", i, err);
	if (*err && e->cfg.log)
		e->cfg.log(e->cfg.log_ctx, TERN_LOG_WARN, err);
	e->port = port;
	e->local = uc.addr;
	e->local.port = port;
	ws->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (ws->efd < 0)
		return fail(e, TERN_ENOMEM, "eventfd: %s", strerror(errno));
	return tern_uring_watch_wakeup(ws->u, ws->efd);
}

static int make_worker(struct tern_engine *e, unsigned i)
{
	struct wslot *ws = &e->ws[i];
	struct tern_worker_cfg wc = {.id = i,
	                             .nworkers = e->n,
	                             .ops = &tern_uring_backend_ops,
	                             .max_sessions = e->cfg.max_sessions,
	                             .inboxes = e->inboxes,
	                             .wake = tern_engine_wake,
	                             .wake_ctx = e,
	                             .clock = tern_engine_clock};
	int rc;

	ws->e = e;
	ws->efd = -1;
	if (e->cfg.backend == TERN_BACKEND_DPDK)
		rc = tern_engine_dpdk_slot(e, ws, i, &wc);
	else
		rc = open_socket(e, ws, i);
	if (rc == 0)
		rc = tern_ring_new(&ws->to_control, RING_SLOTS, TERN_RING_SPSC);
	if (rc < 0)
		return rc;
	if (e->cfg.backend != TERN_BACKEND_DPDK)
		wc.be = ws->u;
	wc.inbox = e->inboxes[i];
	wc.to_control = ws->to_control;
	wc.local = e->local;
	wc.mac = &e->mac;
	wc.budget = &e->budget;
	wc.now = tern_engine_clock();
	tern_random_bytes((uint8_t *)&wc.seed, sizeof(wc.seed));
	rc = tern_worker_init(&ws->w, &wc);
	ws->w_ok = rc == 0;
	return rc;
}

static int make_identity(struct tern_engine *e)
{
	int rc = e->cfg.has_identity
	                 ? tern_hs_keypair_from_private(&e->identity, e->cfg.identity_priv)
	                 : tern_hs_keypair_generate(&e->identity);

	tern_crypto_wipe(e->cfg.identity_priv, sizeof(e->cfg.identity_priv));
	tern_hs_mac_keys_init(&e->mac, e->identity.pub);
	return rc < 0 ? fail(e, rc, "identity: the crypto library failed to start") : 0;
}

static int build(struct tern_engine *e)
{
	int rc;

	e->ws = calloc(e->n, sizeof(*e->ws));
	e->inboxes = calloc(e->n, sizeof(*e->inboxes));
	if (!e->ws || !e->inboxes)
		return fail(e, TERN_ENOMEM, "out of memory");
	for (unsigned i = 0; i < e->n; i++)
		if (tern_ring_new(&e->inboxes[i], RING_SLOTS, TERN_RING_MPSC) < 0)
			return fail(e, TERN_ENOMEM, "out of memory for rings");
	rc = tern_ring_new(&e->ctl_inbox, RING_SLOTS, TERN_RING_MPSC);
	e->ctl_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (rc < 0 || e->ctl_efd < 0)
		return fail(e, TERN_ENOMEM, "out of memory for the control plane");
	rc = make_identity(e);
	if (rc == 0 && e->cfg.backend == TERN_BACKEND_DPDK)
		rc = tern_engine_dpdk_open(e);
	for (unsigned i = 0; rc == 0 && i < e->n; i++)
		rc = make_worker(e, i);
	if (rc == 0 && !(e->ctl_rings = calloc(e->n + 1, sizeof(*e->ctl_rings))))
		rc = fail(e, TERN_ENOMEM, "out of memory");
	for (unsigned i = 0; rc == 0 && i <= e->n; i++)
		e->ctl_rings[i] = i ? e->ws[i - 1].to_control : e->ctl_inbox;
	return rc ? rc : tern_engine_make_control(e);
}

/* cfg.max_memory resolved: 0 is a quarter of physical memory (1 GiB if
 * sysconf cannot tell), SIZE_MAX no limit. */
static uint64_t max_memory(size_t configured)
{
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);

	if (configured == SIZE_MAX)
		return 0; /* tern_budget: no limit */
	if (configured)
		return configured;
	if (pages <= 0 || page <= 0)
		return DEFAULT_MAX_MEMORY;
	return (uint64_t)pages * (uint64_t)page / 4;
}

int tern_engine_new(struct tern_engine **out, const struct tern_engine_cfg *cfg, char *err,
                    size_t errlen)
{
	struct tern_engine *e = calloc(1, sizeof(*e));
	int rc;

	*out = NULL;
	if (!e)
		return TERN_ENOMEM;
	e->cfg = *cfg;
	e->ctl_efd = -1;
	e->n = cfg->workers;
	pthread_mutex_init(&e->lock, NULL);
	tern_budget_init(&e->budget, max_memory(cfg->max_memory));
	rc = check_cfg(e, cfg);
	if (rc == 0)
		rc = build(e);
	if (rc < 0) {
		if (err)
			snprintf(err, errlen, "%s", e->err);
		tern_engine_free(e);
		return rc;
	}
	*out = e;
	return 0;
}

int tern_engine_start(struct tern_engine *e)
{

	if (atomic_load(&e->running) || e->ctl_started)
		return fail(e, TERN_ESTATE, "start: the engine is already started");
	atomic_store_explicit(&e->running, true, memory_order_release);
	if (e->cfg.inline_mode)
		return 0; /* the caller's calls drive it (tern_engine_poll) */
	for (unsigned i = 0; i < e->n; i++) {
		if (pthread_create(&e->ws[i].th, NULL, tern_engine_worker_main, &e->ws[i]) != 0) {
			tern_engine_stop(e, 0);
			return fail(e, TERN_ENOMEM, "start: cannot create worker thread %u", i);
		}
		e->ws[i].started = true;
	}
	if (pthread_create(&e->ctl_th, NULL, tern_engine_control_main, e) != 0) {
		tern_engine_stop(e, 0);
		return fail(e, TERN_ENOMEM, "start: cannot create the control thread");
	}
	e->ctl_started = true;
	return 0;
}

static size_t live_sessions(struct tern_engine *e)
{
	size_t n = 0;

	for (unsigned i = 0; i < e->n; i++)
		n += atomic_load_explicit(&e->ws[i].live, memory_order_relaxed);
	return n;
}

/* Asks every worker to close its sessions gracefully, then waits for them. */
static int drain(struct tern_engine *e, uint64_t drain_us)
{
	tern_time until = tern_engine_clock() + drain_us;
	struct tern_msg m = {.type = TERN_MSG_DRAIN};

	for (unsigned i = 0; i < e->n; i++) {
		while (tern_ring_enqueue(e->inboxes[i], &m) < 0 && tern_engine_clock() < until)
			usleep(100);
		tern_engine_wake(e, (int)i);
	}
	while (live_sessions(e) && tern_engine_clock() < until) {
		if (e->cfg.inline_mode)
			tern_engine_poll(e,
			                 TERN_MIN(until - tern_engine_clock(), (tern_time)TERN_MS));
		else
			usleep(1000);
	}
	return live_sessions(e) ? TERN_ETIMEDOUT : 0;
}

int tern_engine_stop(struct tern_engine *e, uint64_t drain_us)
{
	int rc = 0;

	if (!atomic_load(&e->running))
		return 0;
	if (drain_us)
		rc = drain(e, drain_us);
	atomic_store_explicit(&e->running, false, memory_order_release);
	for (unsigned i = 0; i < e->n; i++) {
		if (!e->ws[i].started)
			continue;
		tern_engine_wake(e, (int)i);
		pthread_join(e->ws[i].th, NULL);
		e->ws[i].started = false;
	}
	if (e->ctl_started) {
		tern_engine_wake(e, -1);
		pthread_join(e->ctl_th, NULL);
		e->ctl_started = false;
	}
	return rc;
}

static void free_rings(struct tern_engine *e)
{
	struct tern_msg m;

	for (unsigned i = 0; i < e->n; i++) {
		while (e->ws[i].to_control && tern_ring_dequeue(e->ws[i].to_control, &m) == 0)
			free(m.ptr);
		tern_ring_free(e->ws[i].to_control);
		tern_ring_free(e->inboxes[i]);
	}
	while (e->ctl_inbox && tern_ring_dequeue(e->ctl_inbox, &m) == 0) {
		free(((struct connect_msg *)m.ptr)->cc);
		free(m.ptr);
	}
	tern_ring_free(e->ctl_inbox);
	free(e->ctl_rings);
}

void tern_engine_free(struct tern_engine *e)
{
	if (!e)
		return;
	tern_engine_stop(e, 0);
	tern_hub_free(e);
	tern_control_free(e->ctl); /* pending connects' contexts are freed with it? no: below */
	for (unsigned i = 0; e->ws && i < e->n; i++) {
		if (e->ws[i].w_ok)
			tern_worker_free(&e->ws[i].w);
		tern_uring_close(e->ws[i].u);
		if (e->ws[i].efd >= 0)
			close(e->ws[i].efd);
	}
	tern_engine_dpdk_close(e); /* after the workers: they held its mbufs */
	if (e->ws && e->inboxes)
		free_rings(e);
	while (e->listeners) {
		struct listener *l = e->listeners;
		e->listeners = l->next;
		free(l);
	}
	if (e->ctl_efd >= 0)
		close(e->ctl_efd);
	pthread_mutex_destroy(&e->lock);
	tern_crypto_wipe(&e->identity, sizeof(e->identity));
	free(e->ws);
	free(e->inboxes);
	free(e);
}

uint16_t tern_engine_port(const struct tern_engine *e)
{
	return e->port;
}

void tern_engine_public_key(const struct tern_engine *e, uint8_t pub[TERN_KEY_LEN])
{
	memcpy(pub, e->identity.pub, TERN_KEY_LEN);
}

const char *tern_engine_errmsg(const struct tern_engine *e)
{
	return e->err;
}

size_t tern_engine_backend_stats(struct tern_engine *e, char *buf, size_t len)
{
	size_t used = 0;

	if (!len)
		return 0;
	buf[0] = '\0';
	if (e->cfg.backend == TERN_BACKEND_DPDK)
		return tern_engine_dpdk_stats(e, buf, len);
	for (unsigned i = 0; i < e->n && e->ws[i].u && used + 1 < len; i++) {
		char prefix[16];
		snprintf(prefix, sizeof(prefix), "w%u.", i);
		used += tern_uring_stats_text(e->ws[i].u, prefix, buf + used, len - used);
	}
	return used;
}

/* The listener for (vport, type), active or not; call with e->lock held. */
static struct listener *listener_find(struct tern_engine *e, uint16_t vport, uint8_t type)
{
	for (struct listener *l = e->listeners; l; l = l->next)
		if (l->vport == vport && l->stream_type == type)
			return l;
	return NULL;
}

/* Listeners are never freed before the engine (the control thread may be
 * reading one): unlisten deactivates, listen reactivates. */
int tern_listen(struct tern_engine *e, uint16_t vport, uint8_t stream_type,
                const struct tern_handler *h)
{
	struct listener *l;
	int rc = 0;

	if (!h)
		return fail(e, TERN_EINVAL, "listen: a handler is required");
	pthread_mutex_lock(&e->lock);
	l = listener_find(e, vport, stream_type);
	if (l && l->active) {
		rc = fail(e, TERN_EINVAL, "listen: vport %u type %u already has a listener", vport,
		          stream_type);
	} else if (l) {
		l->h = *h;
		l->active = true;
	} else if ((l = calloc(1, sizeof(*l))) != NULL) {
		*l = (struct listener){.vport = vport,
		                       .stream_type = stream_type,
		                       .active = true,
		                       .h = *h,
		                       .next = e->listeners};
		e->listeners = l;
	} else {
		rc = fail(e, TERN_ENOMEM, "listen: out of memory");
	}
	pthread_mutex_unlock(&e->lock);
	return rc;
}

int tern_unlisten(struct tern_engine *e, uint16_t vport, uint8_t stream_type)
{
	struct listener *l;
	int rc = 0;

	pthread_mutex_lock(&e->lock);
	l = listener_find(e, vport, stream_type);
	if (l && l->active)
		l->active = false;
	else
		rc = fail(e, TERN_EINVAL, "unlisten: nothing listens on vport %u type %u", vport,
		          stream_type);
	pthread_mutex_unlock(&e->lock);
	return rc;
}

int tern_connect(struct tern_engine *e, const struct tern_connect_opts *o)
{
	struct connect_msg *cm;
	struct tern_msg m = {.type = TERN_MSG_USER};

	if (!o || !o->handler || (o->addr.family != 4 && o->addr.family != 6) || !o->addr.port)
		return fail(e, TERN_EINVAL,
		            "connect: an address (family 4 or 6, port > 0) and a "
		            "handler are required");
	if (o->ticket_len > TERN_HS_TICKET_MAX || (o->ticket_len && !o->ticket))
		return fail(e, TERN_EINVAL, "connect: a ticket is at most %d bytes",
		            TERN_HS_TICKET_MAX);
	if (!atomic_load(&e->running))
		return fail(e, TERN_ESTATE, "connect: start the engine first");
	cm = calloc(1, sizeof(*cm));
	if (!cm || !(cm->cc = calloc(1, sizeof(*cm->cc)))) {
		free(cm);
		return fail(e, TERN_ENOMEM, "connect: out of memory");
	}
	cm->req = (struct tern_connect_req){.peer = o->addr,
	                                    .vport = o->vport,
	                                    .stream_type = o->stream_type,
	                                    .ticket_len = o->ticket_len};
	memcpy(cm->server_pub, o->server_pub, TERN_KEY_LEN);
	if (o->ticket_len)
		memcpy(cm->ticket, o->ticket, o->ticket_len);
	cm->cc->handler = *o->handler;
	cm->cc->user = o->user;
	m.ptr = cm;
	if (tern_ring_enqueue(e->ctl_inbox, &m) < 0) {
		free(cm->cc);
		free(cm);
		return fail(e, TERN_EAGAIN, "connect: too many connects queued; retry");
	}
	tern_engine_wake(e, -1);
	return 0;
}

/* ---- keys ---- */

int tern_key_generate(uint8_t priv[TERN_KEY_LEN], uint8_t pub[TERN_KEY_LEN])
{
	struct tern_hs_keypair kp;
	int rc = tern_hs_keypair_generate(&kp);

	if (rc == 0) {
		memcpy(priv, kp.priv, TERN_KEY_LEN);
		memcpy(pub, kp.pub, TERN_KEY_LEN);
	}
	tern_crypto_wipe(&kp, sizeof(kp));
	return rc;
}

int tern_key_public(const uint8_t priv[TERN_KEY_LEN], uint8_t pub[TERN_KEY_LEN])
{
	struct tern_hs_keypair kp;
	int rc = tern_hs_keypair_from_private(&kp, priv);

	if (rc == 0)
		memcpy(pub, kp.pub, TERN_KEY_LEN);
	tern_crypto_wipe(&kp, sizeof(kp));
	return rc;
}

int tern_key_parse(const char *b64, uint8_t key[TERN_KEY_LEN])
{
	uint8_t tmp[TERN_KEY_LEN + 3];
	int n = b64 ? tern_base64_decode(tmp, sizeof(tmp), b64, strlen(b64)) : TERN_EINVAL;

	if (n == TERN_KEY_LEN)
		memcpy(key, tmp, TERN_KEY_LEN);
	tern_crypto_wipe(tmp, sizeof(tmp));
	return n == TERN_KEY_LEN ? 0 : TERN_EINVAL;
}

static int key_err(char *err, size_t errlen, const char *path, const char *why)
{
	if (err)
		snprintf(err, errlen, "%s: %s", path, why);
	return TERN_EINVAL;
}

static int load(const char *path, bool secret, uint8_t key[TERN_KEY_LEN], char *err, size_t errlen)
{
	char text[128];
	struct stat st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return key_err(err, errlen, path, strerror(errno));
	if (secret && fstat(fd, &st) == 0 && (st.st_mode & 077)) {
		close(fd);
		return key_err(err, errlen, path,
		               "a private key must not be readable by group or "
		               "others (chmod 600)");
	}
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n <= 0)
		return key_err(err, errlen, path, "empty or unreadable");
	text[n] = '\0';
	text[strcspn(text, "\r\n")] = '\0';
	if (tern_key_parse(text, key) < 0) {
		tern_crypto_wipe(text, sizeof(text));
		return key_err(err, errlen, path,
		               "not a base64 32-byte key (make one with tern-keygen)");
	}
	tern_crypto_wipe(text, sizeof(text));
	return 0;
}

int tern_key_load(const char *path, uint8_t key[TERN_KEY_LEN], char *err, size_t errlen)
{
	return load(path, true, key, err, errlen);
}

int tern_key_load_public(const char *path, uint8_t key[TERN_KEY_LEN], char *err, size_t errlen)
{
	return load(path, false, key, err, errlen);
}
