/* tern-keygen: the operator's tool for tern's keys and tickets (docs/tern-keygen.md).
 *
 *   genkey -o FILE [--force]      new static private key to FILE, public key to stdout
 *   pubkey [-i FILE]              public key of a private key (stdin by default)
 *   ticket-key -o FILE [--force]  new 32-byte ticket key
 *   ticket --key FILE --pid N --expires WHEN --client-pub B64 [--now SECONDS]
 *   ticket-verify --key FILE --client-pub B64 [--now SECONDS] [-i FILE]
 *
 * Every key is one line of base64 (RFC 4648, padded). Secret files are
 * created with mode 0600 and never overwritten without --force. The crypto
 * is the library's (crypto/handshake.h, crypto/token.h, crypto/encode.h);
 * this file only parses, reads and writes. Secrets on the stack are wiped
 * before exit. Exit status: 0 done, 1 failed (bad key, forged ticket...),
 * 2 usage error; every error names the flag and the fix. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crypto/encode.h"
#include "crypto/handshake.h"
#include "crypto/token.h"

#define PROG "tern-keygen"
#define KEY_TEXT_MAX 4096 /* a key file is 45 bytes; anything past this is not one */
#define EXIT_USAGE 2

struct opts {
	const char *cmd;
	const char *out, *in, *key, *client_pub, *expires, *pid, *now;
	bool force;
};

static const char usage_text[] =
        "usage: " PROG " COMMAND [OPTIONS]\n"
        "\n"
        "  genkey -o FILE [--force]       write a new private key to FILE (mode 0600),\n"
        "                                 print its public key\n"
        "  pubkey [-i FILE]               print the public key of a private key (stdin\n"
        "                                 by default)\n"
        "  ticket-key -o FILE [--force]   write a new 32-byte ticket key (mode 0600)\n"
        "  ticket --key FILE --pid N --expires WHEN --client-pub BASE64 [--now SECONDS]\n"
        "                                 mint a ticket for a client, print it\n"
        "  ticket-verify --key FILE --client-pub BASE64 [--now SECONDS] [-i FILE]\n"
        "                                 check a ticket (stdin by default), print its\n"
        "                                 pid and expiry\n"
        "\n"
        "WHEN is a lifetime in seconds from now (3600, or with a unit: 90m, 12h, 30d),\n"
        "an absolute unix time (@1700003600) or a UTC date (2030-01-31 or\n"
        "2030-01-31T12:00:00Z). --now replaces the clock (for tests). Keys and tickets\n"
        "are base64, one line. Exit status: 0 ok, 1 failed, 2 usage error.\n";

static void vreport(const char *fmt, va_list ap)
{
	fputs(PROG ": ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(fmt, ap);
	va_end(ap);
	fputs("(run '" PROG " --help' for usage)\n", stderr);
	return EXIT_USAGE;
}

__attribute__((format(printf, 1, 2))) static int failure(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(fmt, ap);
	va_end(ap);
	return EXIT_FAILURE;
}

/* ---- reading and writing key text --------------------------------------- */

/* Reads all of f (at most cap - 1 bytes) into buf, NUL-terminated. Returns
 * the length, or -1 if f is longer or unreadable. */
static ssize_t slurp(FILE *f, char *buf, size_t cap)
{
	size_t n = fread(buf, 1, cap - 1, f);

	if (ferror(f) || (n == cap - 1 && fgetc(f) != EOF))
		return -1;
	buf[n] = '\0';
	return (ssize_t)n;
}

/* Decodes exactly want bytes of base64 from path ("-" or NULL: stdin).
 * flag and hint name the option and how to get a good value. */
static int read_b64_file(const char *path, const char *flag, const char *hint, uint8_t *out,
                         size_t want)
{
	char text[KEY_TEXT_MAX];
	FILE *f = (!path || strcmp(path, "-") == 0) ? stdin : fopen(path, "r");
	ssize_t n;
	int got;

	if (!f)
		return failure("%s %s: %s", flag, path, strerror(errno));
	n = slurp(f, text, sizeof(text));
	if (f != stdin)
		fclose(f);
	got = n < 0 ? -1 : tern_base64_decode(out, want, text, (size_t)n);
	explicit_bzero(text, sizeof(text));
	if (got != (int)want)
		return failure("%s %s: not %zu bytes of base64 on one line; %s", flag,
		               path ? path : "(stdin)", want, hint);
	return 0;
}

static int decode_arg(const char *text, const char *flag, const char *hint, uint8_t *out,
                      size_t want)
{
	if (tern_base64_decode(out, want, text, strlen(text)) != (int)want)
		return usage_error("%s %s: not %zu bytes of base64; %s", flag, text, want, hint);
	return 0;
}

static void print_b64(const uint8_t *bin, size_t len)
{
	char text[TERN_BASE64_LEN(TERN_HS_TICKET_MAX)];

	tern_base64_encode(text, sizeof(text), bin, len);
	puts(text);
}

/* Writes bin as one line of base64 to a new file of mode 0600 (replacing an
 * existing one only with force). */
static int write_secret(const char *path, bool force, const uint8_t *bin, size_t len)
{
	char text[TERN_BASE64_LEN(64) + 1];
	int flags = O_WRONLY | O_CREAT | O_NOFOLLOW | (force ? O_TRUNC : O_EXCL);
	int fd = open(path, flags, 0600), n, rc = 0;

	if (fd < 0 && errno == EEXIST)
		return failure("-o %s: file exists; remove it or pass --force to replace it", path);
	if (fd < 0)
		return failure("-o %s: %s", path, strerror(errno));
	n = tern_base64_encode(text, sizeof(text) - 1, bin, len);
	text[n++] = '\n';
	if (fchmod(fd, 0600) != 0 || write(fd, text, (size_t)n) != n)
		rc = failure("-o %s: write failed", path);
	if (close(fd) != 0 && rc == 0)
		rc = failure("-o %s: write failed", path);
	explicit_bzero(text, sizeof(text));
	return rc;
}

/* ---- commands ----------------------------------------------------------- */

static int cmd_genkey(const struct opts *o)
{
	struct tern_hs_keypair kp;
	int rc;

	if (!o->out)
		return usage_error("genkey needs -o FILE (where to write the private key)");
	if (tern_hs_keypair_generate(&kp) < 0)
		return failure("no randomness (libsodium failed to start)");
	rc = write_secret(o->out, o->force, kp.priv, sizeof(kp.priv));
	if (rc == 0)
		print_b64(kp.pub, sizeof(kp.pub));
	explicit_bzero(&kp, sizeof(kp));
	return rc;
}

static int cmd_pubkey(const struct opts *o)
{
	uint8_t priv[TERN_HS_KEY_LEN];
	struct tern_hs_keypair kp;
	int rc = read_b64_file(o->in, "-i", "give a private key made by '" PROG " genkey'", priv,
	                       sizeof(priv));

	if (rc == 0 && tern_hs_keypair_from_private(&kp, priv) < 0)
		rc = failure("-i: not a usable private key");
	if (rc == 0)
		print_b64(kp.pub, sizeof(kp.pub));
	explicit_bzero(priv, sizeof(priv));
	explicit_bzero(&kp, sizeof(kp));
	return rc;
}

static int cmd_ticket_key(const struct opts *o)
{
	uint8_t key[TERN_TOKEN_KEY_LEN];
	int rc;

	if (!o->out)
		return usage_error("ticket-key needs -o FILE (where to write the key)");
	if (tern_token_keygen(key) < 0)
		return failure("no randomness (libsodium failed to start)");
	rc = write_secret(o->out, o->force, key, sizeof(key));
	explicit_bzero(key, sizeof(key));
	return rc;
}

/* A decimal number without sign, whitespace or overflow. */
static bool parse_u64(const char *s, uint64_t *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno == 0 && *end == '\0';
}

/* "2030-01-31" or "2030-01-31T12:00:00Z", UTC. */
static bool parse_date(const char *s, uint64_t *out)
{
	struct tm tm = {0};
	const char *end = strptime(s, "%Y-%m-%d", &tm);
	time_t t;

	if (end && *end == 'T')
		end = strptime(end, "T%H:%M:%SZ", &tm);
	if (!end || *end != '\0')
		return false;
	t = timegm(&tm);
	if (t < 0)
		return false;
	*out = (uint64_t)t;
	return true;
}

/* WHEN: a lifetime in seconds (optional unit s, m, h, d), @UNIX or a date. */
static bool parse_expiry(const char *s, uint64_t now, uint64_t *out)
{
	static const struct {
		char unit;
		uint64_t mul;
	} units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
	char num[24];
	size_t n = strlen(s);
	uint64_t v, mul = 1;

	if (s[0] == '@')
		return parse_u64(s + 1, out);
	if (strchr(s, '-'))
		return parse_date(s, out);
	if (n == 0 || n >= sizeof(num))
		return false;
	memcpy(num, s, n + 1);
	for (size_t i = 0; i < TERN_ARRAY_LEN(units); i++)
		if (num[n - 1] == units[i].unit) {
			mul = units[i].mul;
			num[n - 1] = '\0';
		}
	if (!parse_u64(num, &v) || v > (UINT64_MAX - now) / mul)
		return false;
	*out = now + v * mul;
	return true;
}

static int get_now(const struct opts *o, uint64_t *now)
{
	if (!o->now) {
		*now = (uint64_t)time(NULL);
		return 0;
	}
	if (!parse_u64(o->now, now))
		return usage_error("--now %s: want unix seconds, e.g. --now 1700000000", o->now);
	return 0;
}

/* The options ticket and ticket-verify share: key file, client key, clock. */
static int ticket_inputs(const struct opts *o, uint8_t key[TERN_TOKEN_KEY_LEN],
                         uint8_t client[TERN_HS_KEY_LEN], uint64_t *now)
{
	int rc;

	if (!o->key || !o->client_pub)
		return usage_error("%s needs --key FILE and --client-pub BASE64", o->cmd);
	rc = get_now(o, now);
	if (rc == 0)
		rc = decode_arg(o->client_pub, "--client-pub",
		                "give the client's public key as printed by '" PROG " genkey'",
		                client, TERN_HS_KEY_LEN);
	if (rc == 0)
		rc = read_b64_file(o->key, "--key", "make one with '" PROG " ticket-key -o FILE'",
		                   key, TERN_TOKEN_KEY_LEN);
	return rc;
}

static int cmd_ticket(const struct opts *o)
{
	uint8_t key[TERN_TOKEN_KEY_LEN], client[TERN_HS_KEY_LEN], ticket[TERN_TOKEN_LEN];
	uint64_t now = 0, pid = 0, expiry = 0;
	int rc;

	if (!o->pid || !o->expires)
		return usage_error("ticket needs --pid N and --expires WHEN");
	if (!parse_u64(o->pid, &pid))
		return usage_error("--pid %s: want a decimal number, e.g. --pid 42", o->pid);
	rc = ticket_inputs(o, key, client, &now);
	if (rc == 0 && !parse_expiry(o->expires, now, &expiry))
		rc = usage_error("--expires %s: want seconds from now (3600, 12h, 30d), "
		                 "@UNIXTIME or a UTC date (2030-01-31[T12:00:00Z])",
		                 o->expires);
	if (rc == 0 && expiry <= now)
		rc = usage_error("--expires %s: already past; give a later time", o->expires);
	if (rc == 0 && tern_token_mint(key, pid, expiry, client, NULL, ticket, sizeof(ticket)) < 0)
		rc = failure("minting failed (libsodium)");
	if (rc == 0)
		print_b64(ticket, sizeof(ticket));
	explicit_bzero(key, sizeof(key));
	return rc;
}

static int cmd_ticket_verify(const struct opts *o)
{
	uint8_t key[TERN_TOKEN_KEY_LEN], client[TERN_HS_KEY_LEN], ticket[TERN_TOKEN_LEN];
	uint64_t now = 0, pid = 0, expiry = 0;
	int rc = ticket_inputs(o, key, client, &now), v;

	if (rc == 0)
		rc = read_b64_file(o->in, "-i", "give a ticket made by '" PROG " ticket'", ticket,
		                   sizeof(ticket));
	if (rc == 0) {
		v = tern_token_verify(key, ticket, sizeof(ticket), now, client, &pid, &expiry);
		if (v == TERN_ETIMEDOUT)
			rc = failure("ticket expired (at or before --now)");
		else if (v < 0)
			rc = failure("ticket not valid: minted under another --key, or for another "
			             "--client-pub");
		else
			printf("pid %" PRIu64 "\nexpires %" PRIu64 "\n", pid, expiry);
	}
	explicit_bzero(key, sizeof(key));
	return rc;
}

/* ---- command line ------------------------------------------------------- */

static const struct {
	const char *name;
	int (*run)(const struct opts *o);
	const char *allowed; /* option letters this command takes */
} commands[] = {
        {"genkey", cmd_genkey, "of"},
        {"pubkey", cmd_pubkey, "i"},
        {"ticket-key", cmd_ticket_key, "of"},
        {"ticket", cmd_ticket, "kpecn"},
        {"ticket-verify", cmd_ticket_verify, "kcni"},
};

static const struct option long_opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"input", required_argument, NULL, 'i'},
        {"force", no_argument, NULL, 'f'},
        {"key", required_argument, NULL, 'k'},
        {"pid", required_argument, NULL, 'p'},
        {"expires", required_argument, NULL, 'e'},
        {"client-pub", required_argument, NULL, 'c'},
        {"now", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
};

static const char *long_name(int c)
{
	for (size_t i = 0; long_opts[i].name; i++)
		if (long_opts[i].val == c)
			return long_opts[i].name;
	return "?";
}

static void store_opt(struct opts *o, int c, const char *arg)
{
	switch (c) {
	case 'o':
		o->out = arg;
		break;
	case 'i':
		o->in = arg;
		break;
	case 'k':
		o->key = arg;
		break;
	case 'p':
		o->pid = arg;
		break;
	case 'e':
		o->expires = arg;
		break;
	case 'c':
		o->client_pub = arg;
		break;
	case 'n':
		o->now = arg;
		break;
	default:
		o->force = true;
		break; /* 'f' */
	}
}

/* Parses argv after the command name. Returns 0, or an exit status. */
static int parse_opts(int argc, char **argv, const char *allowed, struct opts *o)
{
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:i:fh", long_opts, NULL)) != -1) {
		if (c == 'h') {
			fputs(usage_text, stdout);
			return -1;
		}
		if (c == '?') /* getopt_long said which */
			return usage_error("bad option for %s", o->cmd);
		if (!strchr(allowed, c))
			return usage_error("%s does not take --%s", o->cmd, long_name(c));
		store_opt(o, c, optarg);
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = {0};
	int rc;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(usage_text, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	for (size_t i = 0; i < TERN_ARRAY_LEN(commands); i++) {
		if (strcmp(argv[1], commands[i].name) != 0)
			continue;
		o.cmd = commands[i].name;
		rc = parse_opts(argc - 1, argv + 1, commands[i].allowed, &o);
		if (rc != 0)
			return rc < 0 ? 0 : rc;
		return commands[i].run(&o);
	}
	return usage_error("unknown command '%s'; one of genkey, pubkey, ticket-key, ticket, "
	                   "ticket-verify",
	                   argv[1]);
}
