/* tern-server's file service: the client sends a path (relative to the
 * served directory) as its first message on stream 0; the server sends the
 * file back on stream 0 as messages of at most FILE_CHUNK bytes, then one
 * last message, then finishes the stream. The last message is always the
 * trailer, one text line:
 *
 *     ok size=<bytes> sha256=<64 hex digits>\n      everything was sent
 *     error <name>: <detail>\n                      nothing (more) will be
 *
 * so a client holds each message back until the next one (or the finish)
 * shows it was not the last; no framing is needed inside the data. Error
 * names: bad-request, absolute-path, path-escape, not-found,
 * permission-denied, not-a-file, io-error.
 *
 * Paths are confined to the directory: absolute paths and ".." components
 * are refused by name, and the file is opened with openat2(RESOLVE_BENEATH)
 * below the directory's descriptor, so a symlink that leads out of it is
 * refused by the kernel (path-escape) while one that stays inside works.
 * Where openat2 is missing (Linux < 5.6) the resolved path is compared with
 * the directory's instead.
 *
 * The file is read on the worker thread (1 MiB preads from the page cache);
 * the stream's push-back (TERN_EAGAIN, then on_writable) paces the reads,
 * so one transfer holds one chunk of memory whatever the file's size. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "apps/server.h"
#include "crypto/sha256.h"

#define FILE_CHUNK (1u << 20) /* bytes per data message */
#define TRAILER_MAX 512
#define PATH_SHOWN 200 /* path bytes quoted in the log */

#define COUNT(name, n) atomic_fetch_add_explicit(&server_counters.name, (n), memory_order_relaxed)

struct file_service {
	int root_fd;
	char root_real[PATH_MAX];
};

struct file_conn {
	int fd;
	bool requested, last_queued, finished;
	uint64_t sent;
	struct tern_sha256 hash;
	uint8_t *buf; /* the message tern_send refused (TERN_EAGAIN) until on_writable */
	size_t buf_len;
	bool buf_pending, buf_last;
	char path[PATH_SHOWN + 3]; /* quoted, for the log */
};

static struct file_service service = {.root_fd = -1};

/* ---- refusing ---- */

static void queue_last(struct file_conn *fc, const char *text)
{
	size_t n = strlen(text);

	memcpy(fc->buf, text, n);
	fc->buf_len = n;
	fc->buf_pending = true;
	fc->buf_last = true;
}

static void refuse(struct tern_conn *c, struct file_conn *fc, const char *name, const char *detail)
{
	char line[TRAILER_MAX], d[160];

	snprintf(line, sizeof(line), "error %s: %s\n", name, detail);
	queue_last(fc, line);
	COUNT(file_refused, 1);
	server_log_quote(d, sizeof(d), detail, strlen(detail));
	server_log(TERN_LOG_WARN, "file-refused", "path=%s error=%s detail=%s", fc->path, name, d);
	(void)c;
}

/* ---- opening below the root ---- */

static bool has_dotdot(const char *p)
{
	for (const char *s = p; *s;) {
		size_t n = strcspn(s, "/");

		if (n == 2 && s[0] == '.' && s[1] == '.')
			return true;
		s += n;
		s += *s == '/';
	}
	return false;
}

/* Without openat2: resolve and require the result inside the root. */
static int open_checked_realpath(const char *rel)
{
	char full[PATH_MAX * 2], real[PATH_MAX];
	size_t rl = strlen(service.root_real);

	snprintf(full, sizeof(full), "%s/%s", service.root_real, rel);
	if (!realpath(full, real))
		return -1;
	if (strncmp(real, service.root_real, rl) != 0 || (real[rl] != '/' && rl != 1)) {
		errno = EXDEV;
		return -1;
	}
	return open(real, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
}

static int open_beneath(const char *rel)
{
	struct open_how how = {.flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY,
	                       .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
	long fd = syscall(SYS_openat2, service.root_fd, rel, &how, sizeof(how));

	if (fd < 0 && errno == ENOSYS)
		return open_checked_realpath(rel);
	return (int)fd;
}

/* Maps a failed open to a named error for the client. */
static void refuse_errno(struct tern_conn *c, struct file_conn *fc, int err)
{
	switch (err) {
	case EXDEV:
		refuse(c, fc, "path-escape",
		       "a symlink on the path leads outside the served directory");
		break;
	case ELOOP:
		refuse(c, fc, "path-escape", "too many symlinks on the path");
		break;
	case ENOENT:
	case ENOTDIR:
		refuse(c, fc, "not-found", "no such file in the served directory");
		break;
	case EACCES:
	case EPERM:
		refuse(c, fc, "permission-denied", "the server may not read this file");
		break;
	default:
		refuse(c, fc, "io-error", strerror(err));
	}
}

/* Checks the request and opens the file; on failure the refusal is queued. */
static bool open_request(struct tern_conn *c, struct file_conn *fc, char *path)
{
	struct stat st;

	if (!*path || strlen(path) >= PATH_MAX)
		return refuse(c, fc, "bad-request", "send a relative path of 1 to 4095 bytes"),
		       false;
	if (path[0] == '/')
		return refuse(c, fc, "absolute-path", "paths are relative to the served directory"),
		       false;
	if (has_dotdot(path))
		return refuse(c, fc, "path-escape", "'..' is not allowed in a path"), false;
	fc->fd = open_beneath(path);
	if (fc->fd < 0)
		return refuse_errno(c, fc, errno), false;
	if (fstat(fc->fd, &st) < 0 || !S_ISREG(st.st_mode))
		return refuse(c, fc, "not-a-file", "only regular files are served"), false;
	return true;
}

/* ---- sending ---- */

static void send_trailer(struct file_conn *fc)
{
	uint8_t d[TERN_SHA256_LEN];
	char hex[TERN_SHA256_HEX_LEN], line[TRAILER_MAX];

	tern_sha256_final(&fc->hash, d);
	tern_sha256_hex(hex, d);
	snprintf(line, sizeof(line), "ok size=%llu sha256=%s\n", (unsigned long long)fc->sent, hex);
	queue_last(fc, line);
	COUNT(file_served, 1);
	server_log(TERN_LOG_INFO, "file-sent", "path=%s size=%llu sha256=%s", fc->path,
	           (unsigned long long)fc->sent, hex);
}

/* Reads the next chunk into buf; at the end queues the trailer. */
static void next_chunk(struct file_conn *fc)
{
	ssize_t n = read(fc->fd, fc->buf, FILE_CHUNK);

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		n = read(fc->fd, fc->buf, FILE_CHUNK);
	if (n < 0) {
		char line[TRAILER_MAX];
		snprintf(line, sizeof(line), "error io-error: reading the file: %s\n",
		         strerror(errno));
		queue_last(fc, line);
		COUNT(file_refused, 1);
		return;
	}
	if (n == 0)
		return send_trailer(fc);
	tern_sha256_update(&fc->hash, fc->buf, (size_t)n);
	fc->buf_len = (size_t)n;
	fc->buf_pending = true;
	fc->buf_last = false;
}

/* Sends chunks until the stream pushes back or the trailer is out. */
static void pump(struct tern_conn *c, struct file_conn *fc)
{
	while (!fc->finished) {
		int rc;

		if (!fc->buf_pending)
			next_chunk(fc);
		rc = tern_send(c, 0, fc->buf, fc->buf_len);
		if (rc == TERN_EAGAIN)
			return;
		fc->buf_pending = false;
		if (rc < 0 || fc->buf_last) {
			tern_finish(c, 0);
			fc->finished = true;
		} else {
			fc->sent += fc->buf_len;
			COUNT(file_bytes, fc->buf_len);
			COUNT(bytes_out, fc->buf_len);
		}
	}
	free(fc->buf);
	fc->buf = NULL;
}

/* ---- the handler ---- */

static bool file_accept(void *ctx, struct tern_conn *c)
{
	struct file_conn *fc = calloc(1, sizeof(*fc));

	(void)ctx;
	if (!fc)
		return false;
	fc->fd = -1;
	strcpy(fc->path, "-");
	tern_conn_set_user(c, fc);
	return server_session_accept(c, "file");
}

static void file_message(void *ctx, struct tern_conn *c, uint16_t stream, const void *m, size_t len)
{
	struct file_conn *fc = tern_conn_user(c);
	char path[PATH_MAX + 2];

	(void)ctx;
	COUNT(bytes_in, len);
	if (fc->requested)
		return; /* one request per session */
	fc->requested = true;
	COUNT(file_requests, 1);
	while (len && (((const char *)m)[len - 1] == '\n' || ((const char *)m)[len - 1] == '\r'))
		len--; /* "echo path | tern-cat" */
	server_log_quote(fc->path, sizeof(fc->path), m, len < PATH_SHOWN ? len : PATH_SHOWN);
	fc->buf = malloc(FILE_CHUNK);
	if (!fc->buf || tern_sha256_init(&fc->hash) < 0) {
		tern_close(c, 1, "file service: out of memory");
		return;
	}
	server_log(TERN_LOG_INFO, "file-request", "stream=%u path=%s", stream, fc->path);
	if (stream != 0)
		refuse(c, fc, "bad-request", "send the path on stream 0");
	else if (len >= sizeof(path) || memchr(m, '\0', len))
		refuse(c, fc, "bad-request", "a path is 1 to 4095 bytes of text without NUL");
	else {
		memcpy(path, m, len);
		path[len] = '\0';
		open_request(c, fc, path);
	}
	pump(c, fc);
}

static void file_writable(void *ctx, struct tern_conn *c, uint16_t stream)
{
	struct file_conn *fc = tern_conn_user(c);

	(void)ctx;
	if (stream == 0 && fc->requested && !fc->finished)
		pump(c, fc);
}

static void file_closed(void *ctx, struct tern_conn *c, const struct tern_close_reason *r)
{
	struct file_conn *fc = tern_conn_user(c);

	(void)ctx;
	server_session_closed(c, "file", r);
	if (!fc)
		return;
	if (fc->fd >= 0)
		close(fc->fd);
	free(fc->buf);
	free(fc);
}

int server_file_init(struct tern_handler *h, const char *root, char *err, size_t errlen)
{
	service.root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (service.root_fd < 0 || !realpath(root, service.root_real)) {
		snprintf(err, errlen, "--root %s: %s", root, strerror(errno));
		return -1;
	}
	*h = (struct tern_handler){.on_accept = file_accept,
	                           .on_message = file_message,
	                           .on_writable = file_writable,
	                           .on_closed = file_closed};
	return 0;
}

void server_file_free(void)
{
	if (service.root_fd >= 0)
		close(service.root_fd);
	service.root_fd = -1;
}
