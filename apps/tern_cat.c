/* tern-cat: netcat for tern (docs/tern-cat.md).
 *
 *   tern-cat HOST PORT --server-key FILE|B64 [--vport N]        stdin <-> session
 *   tern-cat HOST PORT --server-key K --send FILE              send, verify an echo
 *   tern-cat HOST PORT --server-key K --get PATH --output FILE fetch, verify SHA-256
 *
 * It uses only the public API: the engine (tern/tern.h) and one handle
 * (tern/handle.h), the way an application that is not a worker should.
 * Two threads. The main thread connects, reads stdin (or the --send file)
 * and sends each chunk as one message on stream 0, and finishes stream 0
 * at EOF (tern_handle_finish). The handle's send budget pushes back on it
 * (TERN_EAGAIN, then tern_handle_wait_writable), so the engine's send
 * buffers, not tern-cat, bound the memory and a slow network slows the
 * reads. The receiver thread takes what arrives (tern_handle_recv): it
 * writes it to stdout or the output file, verifies echoes and the file
 * trailer, closes the session when the server finishes stream 0 (recv
 * returns 0 with info.fin), and records how the session ended.
 *
 * The receiver wakes the main thread through an eventfd, which the main
 * thread polls beside stdin; the fields they share are under one mutex.
 * Exit status: 0 done, 1 failed (connect refused, session lost,
 * verification failed: the message names why), 2 usage error. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "apps/app_dpdk.h"
#include "crypto/encode.h" /* base64 for --ticket */
#include "crypto/sha256.h" /* --get's verification */
#include "tern/handle.h"
#include "tern/tern.h"

#define PROG "tern-cat"
#define EXIT_USAGE 2
#define STDIN_CHUNK (64u << 10)
#define FILE_CHUNK (1u << 20)
#define TRAILER_MAX 512
#define WAIT_SLICE_US 100000 /* a full send budget: re-check the session this often */
#define RETRY_US 100         /* a full worker inbox: pause before retrying */

enum mode { MODE_STREAM, MODE_SEND, MODE_GET };
enum state { ST_OPEN, ST_CLOSED };

struct cat {
	/* configuration (main thread, read-only once the engine runs) */
	enum mode mode;
	const char *host, *port_arg, *send_path, *get_path, *out_path;
	struct tern_connect_opts co;
	uint8_t ticket[TERN_TICKET_MAX], client_priv[TERN_KEY_LEN];
	bool has_client_key, quiet;
	uint64_t idle_us, connect_us;
	struct tern_engine *e;
	struct tern_handle *h; /* set before the receiver starts */
	int evfd, in_fd, out_fd, verify_fd;
	bool out_regular;      /* --output is a regular file: removed if the transfer fails */
	struct tern_addr bind; /* --bind: our address (family 0: any of the server's family) */
	struct app_dpdk dpdk;  /* --backend, --dpdk-*, EAL arguments after "--" */

	/* shared, under mu */
	pthread_mutex_t mu;
	enum state st;
	uint64_t sent; /* bytes the handle accepted on stream 0 */
	int exit_code; /* 0 unless something failed */
	char msg[600]; /* the failure, or the success summary */
	/* the receiver closed on purpose (the close is no failure); seq_cst,
	 * set by the receiver, read by both */
	atomic_bool done;

	/* the receiver's alone */
	uint64_t received;
	uint8_t *rbuf; /* where recv writes; grows to the largest message */
	size_t rcap;
	uint8_t *held; /* --get: the newest message, maybe the trailer */
	size_t held_len, held_cap;
	struct tern_sha256 hash;
};

static void notify(struct cat *k)
{
	uint64_t one = 1;
	ssize_t w = write(k->evfd, &one, sizeof(one)); /* cannot fail: the counter is tiny */

	(void)w;
}

/* Records the first failure (either thread). */
__attribute__((format(printf, 2, 3))) static void set_failure(struct cat *k, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&k->mu);
	if (!k->exit_code) {
		va_start(ap, fmt);
		vsnprintf(k->msg, sizeof(k->msg), fmt, ap);
		va_end(ap);
		k->exit_code = 1;
	}
	pthread_mutex_unlock(&k->mu);
	notify(k);
}

__attribute__((format(printf, 2, 3))) static void set_summary(struct cat *k, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&k->mu);
	if (!k->exit_code) {
		va_start(ap, fmt);
		vsnprintf(k->msg, sizeof(k->msg), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&k->mu);
}

static bool write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n) {
		ssize_t w = write(fd, b, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		b += w;
		n -= (size_t)w;
	}
	return true;
}

/* ---- the receiver: ending the session ---- */

/* Everything is over on our side: close gracefully (the peer sees code 0). */
static void finish_session(struct cat *k)
{
	atomic_store(&k->done, true);
	while (tern_handle_close(k->h) == TERN_EAGAIN)
		usleep(RETRY_US); /* the worker's inbox is full */
	notify(k);
}

static void fail_session(struct cat *k, const char *why)
{
	atomic_store(&k->done, true);
	while (tern_handle_abort(k->h, 1, why) == TERN_EAGAIN)
		usleep(RETRY_US);
	notify(k);
}

/* ---- the receiver: what arrives ---- */

/* --send: compares what comes back with the file, byte for byte. */
static void verify_echo(struct cat *k, const uint8_t *m, size_t len)
{
	uint8_t buf[64 << 10];

	for (size_t off = 0; off < len;) {
		size_t n = len - off < sizeof(buf) ? len - off : sizeof(buf);
		ssize_t r = pread(k->verify_fd, buf, n, (off_t)(k->received + off));

		if (r != (ssize_t)n || memcmp(buf, m + off, n) != 0) {
			size_t i = 0;
			while (r > 0 && i < (size_t)r && buf[i] == m[off + i])
				i++;
			set_failure(k, "--send %s: the echo differs from the file at byte %llu",
			            k->send_path, (unsigned long long)(k->received + off + i));
			fail_session(k, "echo mismatch");
			return;
		}
		off += n;
	}
}

/* --get: writes the message held back (it was not the trailer). */
static bool flush_held(struct cat *k)
{
	if (!k->held_len)
		return true;
	if (!write_all(k->out_fd, k->held, k->held_len)) {
		set_failure(k, "--output %s: %s", k->out_path, strerror(errno));
		fail_session(k, "client output failed");
		return false;
	}
	tern_sha256_update(&k->hash, k->held, k->held_len);
	k->received += k->held_len;
	k->held_len = 0;
	return true;
}

/* --get: the message just received (in rbuf) becomes the held one; the
 * buffers swap places instead of copying. */
static void hold(struct cat *k, size_t len)
{
	uint8_t *b = k->held;
	size_t cap = k->held_cap;

	k->held = k->rbuf;
	k->held_cap = k->rcap;
	k->held_len = len;
	k->rbuf = b;
	k->rcap = cap;
}

static void on_message(struct cat *k, const uint8_t *m, size_t len)
{
	if (k->mode == MODE_GET) {
		if (flush_held(k))
			hold(k, len);
		return;
	}
	if (k->mode == MODE_SEND) {
		verify_echo(k, m, len);
	} else if (!write_all(STDOUT_FILENO, m, len)) {
		set_failure(k, "stdout: %s", strerror(errno));
		fail_session(k, "client output failed");
		return;
	}
	k->received += len;
}

/* A message larger than rbuf is waiting: make room for len bytes. */
static bool grow(struct cat *k, size_t len)
{
	uint8_t *p = realloc(k->rbuf, len);

	if (!p) {
		set_failure(k, "out of memory for a %zu-byte message", len);
		fail_session(k, "client out of memory");
		return false;
	}
	k->rbuf = p;
	k->rcap = len;
	return true;
}

/* ---- the receiver: the end of the peer's stream ---- */

static void check_trailer_ok(struct cat *k, const char *t)
{
	unsigned long long size;
	char hexgot[TERN_SHA256_HEX_LEN], hexwant[TERN_SHA256_HEX_LEN + 1];
	uint8_t got[TERN_SHA256_LEN], want[TERN_SHA256_LEN];
	int n = 0;

	tern_sha256_final(&k->hash, got);
	tern_sha256_hex(hexgot, got);
	if (sscanf(t, "ok size=%llu sha256=%64s%n", &size, hexwant, &n) != 2 || !n ||
	    tern_sha256_parse_hex(want, hexwant, strlen(hexwant)) < 0)
		set_failure(k,
		            "--get %s: the server's last message is no trailer ('ok size=N "
		            "sha256=HEX'): is vport %u the file service?",
		            k->get_path, k->co.vport);
	else if (size != k->received)
		set_failure(k, "--get %s: size mismatch: received %llu bytes, the server sent %llu",
		            k->get_path, (unsigned long long)k->received, size);
	else if (memcmp(got, want, sizeof(got)) != 0)
		set_failure(k, "--get %s: SHA-256 mismatch: received %s, the server sent %s",
		            k->get_path, hexgot, hexwant);
	else
		set_summary(k, "--get %s: %llu bytes, sha256 %s verified", k->get_path, size,
		            hexgot);
}

static void check_trailer(struct cat *k)
{
	char t[TRAILER_MAX];
	size_t n = k->held_len < sizeof(t) - 1 ? k->held_len : sizeof(t) - 1;

	memcpy(t, k->held ? (const char *)k->held : "", n);
	t[n] = '\0';
	t[strcspn(t, "\r\n")] = '\0';
	if (k->held_len == 0)
		set_failure(k,
		            "--get %s: the server finished without a trailer: is vport %u the "
		            "file service?",
		            k->get_path, k->co.vport);
	else if (strncmp(t, "error ", 6) == 0)
		set_failure(k, "--get %s: the server refused: %s", k->get_path, t + 6);
	else
		check_trailer_ok(k, t);
}

static void on_fin(struct cat *k)
{
	uint64_t sent;

	pthread_mutex_lock(&k->mu);
	sent = k->sent;
	pthread_mutex_unlock(&k->mu);
	if (k->mode == MODE_GET) {
		check_trailer(k);
	} else if (k->mode == MODE_SEND && k->received && k->received != sent) {
		set_failure(k, "--send %s: sent %llu bytes, %llu came back", k->send_path,
		            (unsigned long long)sent, (unsigned long long)k->received);
	} else if (k->mode == MODE_SEND) {
		set_summary(k, "--send %s: sent %llu bytes; %s", k->send_path,
		            (unsigned long long)sent,
		            k->received ? "the echo is identical"
		                        : "nothing came back (a discard service?)");
	}
	finish_session(k);
}

/* ---- the receiver: the session's life ---- */

/* The session is over (recv returned TERN_ECLOSED): says why unless we
 * closed it on purpose, and tells the main thread. */
static void on_closed(struct cat *k)
{
	struct tern_reason r = {.what = "closed"};
	int rlen;

	tern_handle_reason(k->h, &r);
	rlen = (int)strnlen(r.text, 200);
	if (!atomic_load(&k->done))
		set_failure(k,
		            "the session ended before the transfer finished: %s%s%.*s%s "
		            "(code %llu)",
		            r.what, rlen ? " (\"" : "", rlen, rlen ? r.text : "", rlen ? "\")" : "",
		            (unsigned long long)r.code);
	pthread_mutex_lock(&k->mu);
	k->st = ST_CLOSED;
	pthread_mutex_unlock(&k->mu);
	notify(k);
}

/* Takes every message until the session ends. Messages on other streams
 * and datagrams are not tern-cat's: skipped. */
static void *receiver_main(void *arg)
{
	struct cat *k = arg;
	struct tern_recv_info info;
	int n;

	while ((n = tern_handle_recv(k->h, k->rbuf, k->rcap, &info, TERN_FOREVER)) !=
	       TERN_ECLOSED) {
		if (n == TERN_ETOOBIG && grow(k, info.len))
			continue;
		if (n < 0)
			break; /* out of memory: the session is aborted */
		if (atomic_load(&k->done) || info.stream != 0)
			continue;
		if (info.fin)
			on_fin(k);
		else
			on_message(k, k->rbuf, (size_t)n);
	}
	while (tern_handle_state(k->h) != TERN_HANDLE_CLOSED)
		usleep(1000); /* only after the abort above: it ends at once */
	on_closed(k);
	return NULL;
}

/* ---- the main thread ---- */

/* The shared state now. Callers check it before wait_event, and the
 * receiver changes it before it notifies, so no change can slip between. */
static enum state snapshot(struct cat *k)
{
	enum state st;

	pthread_mutex_lock(&k->mu);
	st = k->st;
	pthread_mutex_unlock(&k->mu);
	return st;
}

/* Sleeps until the receiver notifies. */
static void wait_event(struct cat *k)
{
	struct pollfd p = {.fd = k->evfd, .events = POLLIN};
	uint64_t v;

	if (poll(&p, 1, -1) > 0 && read(k->evfd, &v, sizeof(v)) < 0)
		v = 0;
}

/* A send or finish that failed for another reason than the session's end
 * (the receiver reports that, with the peer's reason). */
static void send_failed(struct cat *k, int rc)
{
	if (rc < 0 && rc != TERN_ECLOSED && !atomic_load(&k->done))
		set_failure(k, "sending on the session: %s", tern_strerror(rc));
}

/* Sends one message on stream 0, waiting while the send budget is full. */
static void send_msg(struct cat *k, const void *m, size_t len)
{
	int rc;

	while ((rc = tern_handle_send(k->h, 0, m, len)) == TERN_EAGAIN) {
		if (tern_handle_wait_writable(k->h, len, 0) == 0)
			usleep(RETRY_US); /* room in the budget: the worker's inbox was full */
		else
			tern_handle_wait_writable(k->h, len, WAIT_SLICE_US);
	}
	if (rc == 0) {
		pthread_mutex_lock(&k->mu);
		k->sent += len;
		pthread_mutex_unlock(&k->mu);
	}
	send_failed(k, rc);
}

/* Ends our stream 0: the server sees it after every message sent. */
static void finish_stream(struct cat *k)
{
	int rc;

	while ((rc = tern_handle_finish(k->h, 0)) == TERN_EAGAIN)
		usleep(RETRY_US);
	send_failed(k, rc);
}

/* Reads one chunk of input into buf and sends it; at EOF (or a read
 * error) finishes stream 0 and returns false. */
static bool read_and_send(struct cat *k, uint8_t *buf, size_t cap)
{
	ssize_t n;

	do
		n = read(k->in_fd, buf, cap);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		set_failure(k, "%s: %s", k->send_path ? k->send_path : "stdin", strerror(errno));
	if (n <= 0) {
		finish_stream(k);
		return false;
	}
	send_msg(k, buf, (size_t)n);
	return true;
}

/* Feeds the input to the session until EOF, the session's end, or the
 * receiver closing it. */
static void pump_input(struct cat *k)
{
	size_t cap = k->mode == MODE_SEND ? FILE_CHUNK : STDIN_CHUNK;
	struct pollfd p[2] = {{.fd = k->evfd, .events = POLLIN},
	                      {.fd = k->in_fd, .events = POLLIN}};
	uint8_t *buf = malloc(cap);

	if (!buf) {
		set_failure(k, "out of memory");
		fail_session(k, "client out of memory");
		return;
	}
	while (snapshot(k) == ST_OPEN && !atomic_load(&k->done)) {
		if (poll(p, 2, -1) <= 0)
			continue;
		if (p[0].revents & POLLIN)
			wait_event(k); /* consume it; the loop re-reads the state */
		if ((p[1].revents & (POLLIN | POLLHUP | POLLERR)) && !read_and_send(k, buf, cap))
			break;
	}
	free(buf);
}

static const char *connect_fail_name(uint64_t code)
{
	switch (code) {
	case TERN_CONNECT_BAD_SERVER_KEY:
		return "bad server key: an answer came that did not authenticate (check "
		       "--server-key)";
	case TERN_CONNECT_UNKNOWN_CLIENT_KEY:
		return "unknown client key: the server's allow-list refused our key (--key)";
	case TERN_CONNECT_REPLAY:
		return "replay: the server saw this handshake already";
	case TERN_CONNECT_VERSION_MISMATCH:
		return "version mismatch: the server speaks another protocol version";
	case TERN_CONNECT_TICKET_EXPIRED:
		return "ticket expired (--ticket)";
	case TERN_CONNECT_TICKET_FORGED:
		return "ticket refused: not minted with the server's ticket key (--ticket)";
	case TERN_CONNECT_REFUSED:
		return "refused: nothing listens on that vport (--vport), or policy";
	case TERN_CONNECT_TIMEOUT:
		return "timeout: no authenticated answer (is the server up, the port right, and "
		       "--server-key the server's public key?)";
	case TERN_CONNECT_REFUSED_UNDER_LOAD:
		return "refused under load: retry later";
	case TERN_CONNECT_REFUSED_MEMORY:
		return "refused: the server's memory budget is spent (its max_memory); retry later";
	default:
		return "internal error on the server";
	}
}

/* Connects and waits for the handshake (bounded by --connect-timeout).
 * Returns false, with the failure recorded, if no session opened. */
static bool connect_session(struct cat *k)
{
	struct tern_reason why = {0};

	if (tern_handle_connect_async(k->e, &k->co, &k->h) < 0) {
		set_failure(k, "connect: %s", tern_engine_errmsg(k->e));
		return false;
	}
	/* TERN_ECLOSED with no datagram size: the connect failed (a session
	 * that opened and already ended goes the receiver's way instead) */
	if (tern_handle_wait_open(k->h, TERN_FOREVER) == 0 || tern_handle_max_datagram(k->h))
		return true;
	tern_handle_reason(k->h, &why);
	set_failure(k, "connect to %s port %s vport %u failed: %s", k->host, k->port_arg,
	            k->co.vport, connect_fail_name(why.code));
	return false;
}

static int run(struct cat *k)
{
	pthread_t rx;

	if (!connect_session(k))
		return 1;
	k->st = ST_OPEN; /* before the receiver exists */
	if (pthread_create(&rx, NULL, receiver_main, k) != 0) {
		set_failure(k, "cannot start the receiver thread");
		return 1;
	}
	if (k->mode == MODE_GET) {
		send_msg(k, k->get_path, strlen(k->get_path));
		finish_stream(k);
	} else {
		pump_input(k);
	}
	while (snapshot(k) != ST_CLOSED)
		wait_event(k);
	pthread_join(rx, NULL);
	return 0;
}

/* ---- options ---- */

static const char usage_text[] =
        "usage: " PROG " HOST PORT --server-key FILE|BASE64 [OPTIONS] [-- DPDK EAL ARGUMENTS]\n"
        "\n"
        "Connects to a tern server. Without --send or --get, stdin goes to the session\n"
        "(stream 0, one message per read) and the session to stdout; EOF on stdin ends\n"
        "our stream and tern-cat exits when the server ends its own.\n"
        "\n"
        "  --server-key K       the server's public key: a file, or base64 (required)\n"
        "  --vport N            the service's vport (default 7, echo; 9 discard, 20 file)\n"
        "  --send FILE          send FILE; if it comes back (echo), verify it is identical\n"
        "  --get PATH           fetch PATH from the file service and verify its SHA-256\n"
        "                       and size (default vport 20)\n"
        "  --output FILE        where --get writes (default stdout); removed on failure\n"
        "  --key FILE           our private key (default: a fresh one)\n"
        "  --ticket FILE        a ticket from tern-keygen for our key\n"
        "  --idle-timeout SEC   give up on a silent server after SEC (default 30)\n"
        "  --connect-timeout SEC  give up on the handshake after SEC (default 10)\n"
        "  --quiet              no summary line on success\n"
        "  --bind ADDR          our local address (default: any, of HOST's family)\n"
        "  --backend NAME       uring (default) or dpdk: DPDK EAL arguments then follow\n"
        "                       '--' and --bind is required (docs/deploying.md)\n"
        "  --dpdk-port N        DPDK: the ethdev port index (default 0)\n"
        "  --dpdk-addr2 ADDR    DPDK: a second address, of the other family than --bind\n"
        "  --dpdk-prefix4 N     DPDK: the IPv4 on-link prefix length (default 24)\n"
        "  --dpdk-prefix6 N     DPDK: the IPv6 on-link prefix length (default 64)\n"
        "  --dpdk-gw4 ADDR      DPDK: the IPv4 gateway for off-link servers\n"
        "  --dpdk-gw6 ADDR      DPDK: the IPv6 gateway for off-link servers\n"
        "  --dpdk-vlan N        DPDK: 802.1Q VLAN ID to tag with and require (0: none)\n"
        "  --help\n"
        "\n"
        "Exit status: 0 done, 1 failed (the message says why), 2 usage error.\n";

static int bad(const char *flag, const char *arg, const char *fix)
{
	fprintf(stderr, PROG ": %s%s%s: %s (see --help)\n", flag, arg ? " " : "", arg ? arg : "",
	        fix);
	return EXIT_USAGE;
}

static int parse_secs(const char *flag, const char *v, uint64_t *us)
{
	char *end;
	double s = strtod(v, &end);

	if (end == v || *end || !(s > 0 && s <= 86400))
		return bad(flag, v,
		           "expected seconds, more than 0 and at most 86400 (e.g. 2 or 0.5)");
	*us = (uint64_t)(s * 1e6);
	return 0;
}

static int parse_server_key(struct cat *k, const char *v)
{
	char err[256];

	if (access(v, F_OK) == 0) {
		if (tern_key_load_public(v, k->co.server_pub, err, sizeof(err)) < 0)
			return bad("--server-key", NULL, err);
		return 0;
	}
	if (tern_key_parse(v, k->co.server_pub) < 0)
		return bad("--server-key", v,
		           "neither a readable file nor a base64 32-byte key (the server logs its "
		           "key as event=listening key=...)");
	return 0;
}

static int read_ticket(struct cat *k, const char *path)
{
	char text[1024];
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(text, 1, sizeof(text) - 1, f) : 0;
	int got;

	if (f)
		fclose(f);
	if (!f)
		return bad("--ticket", path, strerror(errno));
	got = tern_base64_decode(k->ticket, sizeof(k->ticket), text, n);
	if (got <= 0)
		return bad("--ticket", path,
		           "not a base64 ticket (make one with tern-keygen ticket)");
	k->co.ticket = k->ticket;
	k->co.ticket_len = (size_t)got;
	return 0;
}

enum {
	O_SKEY = 1,
	O_VPORT,
	O_SEND,
	O_GET,
	O_OUT,
	O_KEY,
	O_TICKET,
	O_IDLE,
	O_CTO,
	O_QUIET,
	O_HELP,
	O_BIND,
	O_DPDK /* the backend settings: O_DPDK + their index in options[] below */
};

static const struct option options[] = {
        {"server-key", required_argument, NULL, O_SKEY},
        {"vport", required_argument, NULL, O_VPORT},
        {"send", required_argument, NULL, O_SEND},
        {"get", required_argument, NULL, O_GET},
        {"output", required_argument, NULL, O_OUT},
        {"key", required_argument, NULL, O_KEY},
        {"ticket", required_argument, NULL, O_TICKET},
        {"idle-timeout", required_argument, NULL, O_IDLE},
        {"connect-timeout", required_argument, NULL, O_CTO},
        {"quiet", no_argument, NULL, O_QUIET},
        {"help", no_argument, NULL, O_HELP},
        {"bind", required_argument, NULL, O_BIND},
        {"backend", required_argument, NULL, O_DPDK + 12},
        {"dpdk-port", required_argument, NULL, O_DPDK + 13},
        {"dpdk-addr2", required_argument, NULL, O_DPDK + 14},
        {"dpdk-prefix4", required_argument, NULL, O_DPDK + 15},
        {"dpdk-prefix6", required_argument, NULL, O_DPDK + 16},
        {"dpdk-gw4", required_argument, NULL, O_DPDK + 17},
        {"dpdk-gw6", required_argument, NULL, O_DPDK + 18},
        {"dpdk-vlan", required_argument, NULL, O_DPDK + 19},
        {NULL, 0, NULL, 0},
};

/* --bind and the backend settings (app_dpdk.c parses those by name). */
static int apply_net(struct cat *k, int opt, const char *v)
{
	char err[256], flag[32];
	const char *name;

	if (opt == O_BIND) {
		if (app_dpdk_parse_addr(v, &k->bind) < 0)
			return bad("--bind", v, "expected an IPv4 or IPv6 address like 10.0.0.1");
		return 0;
	}
	name = options[opt - O_DPDK].name;
	if (app_dpdk_set(&k->dpdk, name, v, err, sizeof(err)) < 0) {
		snprintf(flag, sizeof(flag), "--%s", name);
		return bad(flag, v, err);
	}
	return 0;
}

static int apply(struct cat *k, int opt, const char *v, bool *vport_set, bool *skey_set)
{
	char err[256];
	char *end;
	unsigned long n;

	switch (opt) {
	case O_SKEY:
		*skey_set = true;
		return parse_server_key(k, v);
	case O_VPORT:
		n = strtoul(v, &end, 10);
		if (end == v || *end || n > 65535 || *v == '-')
			return bad("--vport", v, "expected a vport from 0 to 65535");
		k->co.vport = (uint16_t)n;
		*vport_set = true;
		return 0;
	case O_SEND:
		k->send_path = v;
		return 0;
	case O_GET:
		k->get_path = v;
		return 0;
	case O_OUT:
		k->out_path = v;
		return 0;
	case O_KEY:
		if (tern_key_load(v, k->client_priv, err, sizeof(err)) < 0)
			return bad("--key", NULL, err);
		k->has_client_key = true;
		return 0;
	case O_TICKET:
		return read_ticket(k, v);
	case O_IDLE:
		return parse_secs("--idle-timeout", v, &k->idle_us);
	case O_CTO:
		return parse_secs("--connect-timeout", v, &k->connect_us);
	case O_QUIET:
		k->quiet = true;
		return 0;
	case O_HELP:
		fputs(usage_text, stdout);
		return -1;
	case ':':
		return bad(v, NULL, "this option needs a value");
	case '?':
		return bad(v, NULL, "unknown option");
	default:
		return apply_net(k, opt, v);
	}
}

static int resolve(struct cat *k)
{
	struct addrinfo hints = {.ai_socktype = SOCK_DGRAM}, *res = NULL;
	char *end;
	unsigned long port = strtoul(k->port_arg, &end, 10);
	int rc;

	if (end == k->port_arg || *end || port == 0 || port > 65535)
		return bad("PORT", k->port_arg, "expected a UDP port from 1 to 65535");
	rc = getaddrinfo(k->host, NULL, &hints, &res);
	if (rc != 0 || !res)
		return bad("HOST", k->host, rc ? gai_strerror(rc) : "no address");
	if (res->ai_family == AF_INET) {
		k->co.addr.family = 4;
		memcpy(k->co.addr.ip, &((struct sockaddr_in *)(void *)res->ai_addr)->sin_addr, 4);
	} else {
		k->co.addr.family = 6;
		memcpy(k->co.addr.ip, &((struct sockaddr_in6 *)(void *)res->ai_addr)->sin6_addr,
		       16);
	}
	k->co.addr.port = (uint16_t)port;
	freeaddrinfo(res);
	return 0;
}

static int check_modes(struct cat *k, bool vport_set, bool skey_set)
{
	if (!skey_set)
		return bad("--server-key", NULL,
		           "required: the server's public key (file or base64)");
	if (k->send_path && k->get_path)
		return bad("--send", k->send_path, "give --send or --get, not both");
	if (k->out_path && !k->get_path)
		return bad("--output", k->out_path, "only with --get");
	k->mode = k->get_path ? MODE_GET : k->send_path ? MODE_SEND : MODE_STREAM;
	if (k->mode == MODE_GET && !vport_set)
		k->co.vport = 20;
	if (k->mode == MODE_GET && (!*k->get_path || strlen(k->get_path) >= 4096))
		return bad("--get", k->get_path, "expected a path of 1 to 4095 bytes");
	return 0;
}

/* --bind against HOST's family, and the backend's combination. */
static int check_net(struct cat *k)
{
	char err[300];

	if (k->bind.family && k->bind.family != k->co.addr.family)
		return bad("--bind", NULL,
		           k->co.addr.family == 4 ? "HOST is IPv4: give an IPv4 address"
		                                  : "HOST is IPv6: give an IPv6 address");
	if (app_dpdk_check(&k->dpdk, &k->bind, "--bind", err, sizeof(err)) < 0) {
		fprintf(stderr, PROG ": %s\n", err);
		return EXIT_USAGE;
	}
	return 0;
}

/* Everything after "--" is for DPDK's EAL, as in any DPDK application. */
static int parse_args(struct cat *k, int argc, char **argv)
{
	bool vport_set = false, skey_set = false;
	int opt, rc;

	if (app_dpdk_take_eal(&k->dpdk, argc, argv, &argc) < 0)
		return bad("--", NULL, "more than 64 EAL arguments");
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":", options, NULL)) != -1)
		if ((rc = apply(k, opt, opt == '?' || opt == ':' ? argv[optind - 1] : optarg,
		                &vport_set, &skey_set)) != 0)
			return rc;
	if (argc - optind != 2)
		return bad(argc - optind < 2 ? "HOST PORT" : argv[optind + 2], NULL,
		           argc - optind < 2 ? "missing: tern-cat HOST PORT --server-key K"
		                             : "unexpected argument");
	k->host = argv[optind];
	k->port_arg = argv[optind + 1];
	if ((rc = check_modes(k, vport_set, skey_set)) != 0)
		return rc;
	if ((rc = resolve(k)) != 0)
		return rc;
	return check_net(k);
}

/* ---- setup ---- */

static int open_files(struct cat *k)
{
	struct stat st;

	k->in_fd = STDIN_FILENO;
	k->out_fd = STDOUT_FILENO;
	if (k->send_path) {
		k->in_fd = open(k->send_path, O_RDONLY | O_CLOEXEC);
		k->verify_fd = open(k->send_path, O_RDONLY | O_CLOEXEC);
		if (k->in_fd < 0 || k->verify_fd < 0)
			return bad("--send", k->send_path, strerror(errno));
	}
	if (k->out_path && strcmp(k->out_path, "-") != 0) {
		k->out_fd = open(k->out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
		if (k->out_fd < 0)
			return bad("--output", k->out_path, strerror(errno));
		k->out_regular = fstat(k->out_fd, &st) == 0 && S_ISREG(st.st_mode);
	} else {
		k->out_path = "(stdout)";
	}
	if (k->mode == MODE_GET && tern_sha256_init(&k->hash) < 0)
		return bad("--get", k->get_path, "the crypto library failed to start");
	return 0;
}

static int start_engine(struct cat *k)
{
	struct tern_engine_cfg cfg;
	char err[256];

	tern_engine_cfg_default(&cfg);
	cfg.bind = k->bind.family ? k->bind : (struct tern_addr){.family = k->co.addr.family};
	app_dpdk_apply(&k->dpdk, &cfg);
	cfg.idle_timeout_us = k->idle_us;
	if (cfg.keepalive_us > k->idle_us / 3)
		cfg.keepalive_us = k->idle_us / 3;
	cfg.handshake_timeout_us = k->connect_us;
	cfg.has_identity = k->has_client_key;
	memcpy(cfg.identity_priv, k->client_priv, TERN_KEY_LEN);
	explicit_bzero(k->client_priv, sizeof(k->client_priv));
	if (tern_engine_new(&k->e, &cfg, err, sizeof(err)) < 0 || tern_engine_start(k->e) < 0) {
		fprintf(stderr, PROG ": cannot start the engine: %s\n",
		        k->e ? tern_engine_errmsg(k->e) : err);
		return 1;
	}
	return 0;
}

static int report(struct cat *k)
{
	bool is_file = k->mode == MODE_GET && k->out_regular; /* never /dev/null */

	if (k->exit_code) {
		fprintf(stderr, PROG ": %s\n", k->msg);
		if (is_file && unlink(k->out_path) == 0)
			fprintf(stderr, PROG ": removed the incomplete %s\n", k->out_path);
	} else if (!k->quiet && k->msg[0]) {
		fprintf(stderr, PROG ": %s\n", k->msg);
	}
	return k->exit_code;
}

int main(int argc, char **argv)
{
	static struct cat k = {.co.vport = 7,
	                       .idle_us = 30000000,
	                       .connect_us = 10000000,
	                       .in_fd = -1,
	                       .out_fd = -1,
	                       .verify_fd = -1};
	int rc = parse_args(&k, argc, argv);

	if (rc)
		return rc < 0 ? 0 : rc;
	signal(SIGPIPE, SIG_IGN); /* a closed stdout is a write error, reported */
	pthread_mutex_init(&k.mu, NULL);
	k.evfd = eventfd(0, EFD_CLOEXEC);
	if (k.evfd < 0)
		return fprintf(stderr, PROG ": eventfd: %s\n", strerror(errno)), 1;
	if ((rc = open_files(&k)) != 0 || (rc = start_engine(&k)) != 0)
		return rc;
	run(&k);
	tern_handle_release(k.h); /* closed by now (or never opened) */
	tern_engine_stop(k.e, 1000000);
	tern_engine_free(k.e);
	if (k.out_fd > STDOUT_FILENO && close(k.out_fd) < 0)
		set_failure(&k, "--output %s: %s", k.out_path, strerror(errno));
	rc = report(&k);
	free(k.held);
	free(k.rbuf);
	return rc;
}
