/* wshubctl: the admin CLI, one command per run or an interactive prompt, over wshubd's admin socket. */
#include "autoconf.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#ifdef HAVE_LIBEDIT
#include <editline/readline.h>
#endif

/* The admin protocol this wshubctl speaks (docs/ADMIN.md). */
#define CTL_PROTOCOL		1
/* Where the shipped service puts the admin socket. */
#define CTL_SYSTEM_SOCKET	"/run/wshubd/wshubd.sock"
/* Where the shipped config, run from the source tree, puts it. */
#define CTL_LOCAL_SOCKET	"wshubd.sock"
/* Seconds to wait for an answer. */
#define CTL_TIMEOUT_S		60
/* Lines of history kept for the interactive prompt. */
#define CTL_HISTORY_MAX		1000

/* Exit codes; scripts may rely on them (wshubctl(8)). */
#define EXIT_OK			0
#define EXIT_FAILED		1	/* the daemon refused the command */
#define EXIT_USAGE		2	/* wshubctl was used wrongly */
#define EXIT_UNREACHABLE	3	/* no daemon, or the session broke */
#define EXIT_DENIED		4	/* the daemon refused this user */

struct ctl {
	int		 fd;
	FILE		*in;		/* answers, read line by line */
	int		 json;		/* --json: print the answer as JSON */
	json_t		*commands;	/* the daemon's `help`, for completion */
};

static void	ctl_render_value(FILE *, json_t *);

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: wshubctl [-j] [-s socket] [command [argument ...]]\n"
	    "       wshubctl --version | --help\n"
	    "\n"
	    "  -s, --socket PATH   the admin socket (default: $WSHUBCTL_SOCKET,\n"
	    "                      else ./%s when it exists, else %s)\n"
	    "  -j, --json          print answers as JSON, for scripts\n"
	    "  -V, --version       print the version and exit\n"
	    "  -h, --help          print this help and exit\n"
	    "\n"
	    "Without a command, wshubctl reads commands from its input: at a\n"
	    "terminal with a prompt, history and completion. `wshubctl help`\n"
	    "lists the daemon's commands. Exit status: 0 done, 1 the daemon\n"
	    "refused the command, 2 usage error, 3 cannot reach the daemon,\n"
	    "4 permission denied. See wshubctl(8).\n",
	    CTL_LOCAL_SOCKET, CTL_SYSTEM_SOCKET);
}

static void	ctl_err(const char *, ...) __attribute__((format(printf, 1, 2)));

static void
ctl_err(const char *fmt, ...)
{
	va_list ap;

	fputs("wshubctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static const char *
ctl_socket_path(const char *opt)
{
	struct stat st;
	const char *env;

	if (opt != NULL)
		return opt;
	if ((env = getenv("WSHUBCTL_SOCKET")) != NULL && env[0] != '\0')
		return env;
	if (stat(CTL_LOCAL_SOCKET, &st) == 0 && S_ISSOCK(st.st_mode))
		return CTL_LOCAL_SOCKET;
	return CTL_SYSTEM_SOCKET;
}

/*
 * Read one answer line: "ok JSON", "err JSON" or "hello JSON". Returns the
 * exit code it means, with the JSON in |*obj| and the word in |word|.
 */
static int
ctl_read(struct ctl *ctl, char *word, size_t wlen, json_t **obj)
{
	char *line = NULL, *sp;
	size_t cap = 0;
	ssize_t n;
	json_error_t jerr;

	*obj = NULL;
	if ((n = getline(&line, &cap, ctl->in)) <= 0) {
		ctl_err("%s", n == 0 || feof(ctl->in) ?
		    "the daemon closed the session" :
		    errno == EAGAIN ? "no answer from the daemon" :
		    strerror(errno));
		free(line);
		return EXIT_UNREACHABLE;
	}
	if (line[n - 1] == '\n')
		line[--n] = '\0';
	if ((sp = strchr(line, ' ')) == NULL ||
	    (*obj = json_loads(sp + 1, 0, &jerr)) == NULL) {
		ctl_err("unreadable answer from the daemon: %.80s", line);
		free(line);
		return EXIT_UNREACHABLE;
	}
	*sp = '\0';
	snprintf(word, wlen, "%s", line);
	free(line);
	if (strcmp(word, "ok") == 0 || strcmp(word, "hello") == 0)
		return EXIT_OK;
	if (strcmp(word, "err") == 0) {
		const char *code = json_string_value(json_object_get(*obj,
		    "code"));

		return code != NULL && strcmp(code, "denied") == 0 ?
		    EXIT_DENIED : EXIT_FAILED;
	}
	ctl_err("unexpected answer from the daemon: %s", word);
	return EXIT_UNREACHABLE;
}

static int
ctl_connect(struct ctl *ctl, const char *path)
{
	struct sockaddr_un sun;
	struct timeval tv = { CTL_TIMEOUT_S, 0 };
	char word[16];
	json_t *hello;
	json_int_t proto;
	int rv;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		ctl_err("%s: path too long", path);
		return EXIT_USAGE;
	}
	memcpy(sun.sun_path, path, strlen(path));
	if ((ctl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(ctl->fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		rv = errno == EACCES || errno == EPERM ? EXIT_DENIED :
		    EXIT_UNREACHABLE;
		ctl_err("cannot connect to %s: %s%s", path, strerror(errno),
		    rv == EXIT_UNREACHABLE ? " (is wshubd running? see -s)" :
		    "");
		return rv;
	}
	setsockopt(ctl->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if ((ctl->in = fdopen(ctl->fd, "r")) == NULL) {
		ctl_err("fdopen: %s", strerror(errno));
		return EXIT_UNREACHABLE;
	}
	rv = ctl_read(ctl, word, sizeof(word), &hello);
	if (rv != EXIT_OK) {
		if (hello != NULL)
			ctl_err("%s", json_string_value(json_object_get(hello,
			    "error")) != NULL ? json_string_value(
			    json_object_get(hello, "error")) : "refused");
		json_decref(hello);
		return rv == EXIT_FAILED ? EXIT_UNREACHABLE : rv;
	}
	proto = json_integer_value(json_object_get(hello, "protocol"));
	json_decref(hello);
	if (strcmp(word, "hello") != 0 || proto != CTL_PROTOCOL) {
		ctl_err("the daemon speaks admin protocol %lld, this wshubctl "
		    "%d", (long long)proto, CTL_PROTOCOL);
		return EXIT_UNREACHABLE;
	}
	return EXIT_OK;
}

/* Send one command line (without its newline). */
static int
ctl_send(struct ctl *ctl, const char *line)
{
	size_t len = strlen(line), off = 0;
	char *buf;
	ssize_t n;

	if ((buf = malloc(len + 1)) == NULL)
		return -1;
	memcpy(buf, line, len);
	buf[len++] = '\n';
	while (off < len) {
		if ((n = write(ctl->fd, buf + off, len - off)) == -1) {
			if (errno == EINTR)
				continue;
			ctl_err("write: %s", strerror(errno));
			free(buf);
			return -1;
		}
		off += (size_t)n;
	}
	free(buf);
	return 0;
}

/* A cell of a table or a value of a list: text for people. */
static char *
ctl_text(json_t *v)
{
	char *s = NULL;

	switch (json_typeof(v)) {
	case JSON_STRING:
		s = strdup(json_string_value(v));
		break;
	case JSON_INTEGER:
		if (asprintf(&s, "%lld", (long long)json_integer_value(v)) == -1)
			s = NULL;
		break;
	case JSON_REAL:
		if (asprintf(&s, "%.1f", json_real_value(v)) == -1)
			s = NULL;
		break;
	case JSON_TRUE:
		s = strdup("yes");
		break;
	case JSON_FALSE:
		s = strdup("no");
		break;
	case JSON_NULL:
		s = strdup("-");
		break;
	case JSON_ARRAY: {
		size_t i, len = 0;
		json_t *e;
		char *part;

		if (json_array_size(v) == 0)
			return strdup("-");
		/* Scalars joined by commas; anything deeper as JSON. */
		json_array_foreach(v, i, e) {
			if (json_is_object(e) || json_is_array(e))
				return json_dumps(v, JSON_COMPACT);
		}
		json_array_foreach(v, i, e) {
			if ((part = ctl_text(e)) == NULL)
				break;
			len += strlen(part) + 1;
			s = realloc(s, len + 1);
			if (s == NULL) {
				free(part);
				return NULL;
			}
			if (i == 0)
				s[0] = '\0';
			else
				strcat(s, ",");
			strcat(s, part);
			free(part);
		}
		break;
	}
	case JSON_OBJECT:
		s = json_dumps(v, JSON_COMPACT);
		break;
	}
	return s;
}

static int
ctl_is_number(json_t *v)
{
	return json_is_integer(v) || json_is_real(v);
}

/* Whether |v| is a non-empty array of objects: a table. */
static int
ctl_is_table(json_t *v)
{
	size_t i;
	json_t *e;

	if (!json_is_array(v) || json_array_size(v) == 0)
		return 0;
	json_array_foreach(v, i, e)
		if (!json_is_object(e))
			return 0;
	return 1;
}

/*
 * Print an array of objects as an aligned table: one column per key, in
 * the order keys first appear, numbers right-aligned.
 */
static void
ctl_render_table(FILE *fp, json_t *rows)
{
	const char *cols[64];
	size_t ncols = 0, width[64], i, c;
	const char *key;
	json_t *row, *v;
	char *t;

	json_array_foreach(rows, i, row) {
		json_object_foreach(row, key, v) {
			for (c = 0; c < ncols && strcmp(cols[c], key) != 0; c++)
				;
			if (c == ncols && ncols < 64) {
				cols[ncols] = key;
				width[ncols++] = strlen(key);
			}
		}
	}
	json_array_foreach(rows, i, row)
		for (c = 0; c < ncols; c++) {
			v = json_object_get(row, cols[c]);
			if ((t = v != NULL ? ctl_text(v) : strdup("-")) == NULL)
				continue;
			if (strlen(t) > width[c])
				width[c] = strlen(t);
			free(t);
		}
	for (c = 0; c < ncols; c++) {
		for (const char *p = cols[c]; *p != '\0'; p++)
			fputc(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p, fp);
		if (c + 1 < ncols)
			fprintf(fp, "%*s", (int)(width[c] - strlen(cols[c]) + 2),
			    "");
	}
	fputc('\n', fp);
	json_array_foreach(rows, i, row) {
		for (c = 0; c < ncols; c++) {
			v = json_object_get(row, cols[c]);
			if ((t = v != NULL ? ctl_text(v) : strdup("-")) == NULL)
				continue;
			if (v != NULL && ctl_is_number(v))
				fprintf(fp, "%*s", (int)width[c], t);
			else if (c + 1 < ncols)
				fprintf(fp, "%-*s", (int)width[c], t);
			else
				fputs(t, fp);
			if (c + 1 < ncols)
				fputs("  ", fp);
			free(t);
		}
		fputc('\n', fp);
	}
}

/*
 * Collect the scalars of |obj| as "key value" pairs (nested objects with
 * dotted keys) and print them aligned; then each array of objects as a
 * table under its name.
 */
static void
ctl_collect(json_t *obj, const char *prefix, json_t *pairs, json_t *tables)
{
	const char *key;
	json_t *v;
	char *name;

	json_object_foreach(obj, key, v) {
		if (asprintf(&name, "%s%s%s", prefix, prefix[0] != '\0' ?
		    "." : "", key) == -1)
			continue;
		if (json_is_object(v) && json_object_size(v) > 0)
			ctl_collect(v, name, pairs, tables);
		else if (ctl_is_table(v))
			json_object_set(tables, name, v);
		else
			json_array_append_new(pairs, json_pack("[s, O]", name,
			    v));
		free(name);
	}
}

static void
ctl_render_object(FILE *fp, json_t *obj)
{
	json_t *pairs = json_array(), *tables = json_object(), *p, *v;
	size_t i, width = 0;
	const char *key;
	char *t;
	int first = 1;

	if (pairs == NULL || tables == NULL)
		goto out;
	ctl_collect(obj, "", pairs, tables);
	json_array_foreach(pairs, i, p) {
		size_t len = strlen(json_string_value(json_array_get(p, 0)));

		if (len > width)
			width = len;
	}
	json_array_foreach(pairs, i, p) {
		if ((t = ctl_text(json_array_get(p, 1))) == NULL)
			continue;
		fprintf(fp, "%-*s  %s\n", (int)width,
		    json_string_value(json_array_get(p, 0)), t);
		free(t);
		first = 0;
	}
	json_object_foreach(tables, key, v) {
		if (!first)
			fputc('\n', fp);
		/* A lone table needs no heading. */
		if (json_array_size(pairs) > 0 || json_object_size(tables) > 1)
			fprintf(fp, "%s:\n", key);
		ctl_render_table(fp, v);
		first = 0;
	}
out:
	json_decref(pairs);
	json_decref(tables);
}

static void
ctl_render_value(FILE *fp, json_t *v)
{
	char *t;

	if (json_is_object(v))
		ctl_render_object(fp, v);
	else if (ctl_is_table(v))
		ctl_render_table(fp, v);
	else if ((t = ctl_text(v)) != NULL) {
		fprintf(fp, "%s\n", t);
		free(t);
	}
}

/* `help`: commands as a table of usage and description. */
static void
ctl_render_help(FILE *fp, json_t *res)
{
	json_t *cmds = json_object_get(res, "commands"), *c;
	size_t i, width = 0;

	if (cmds == NULL) {
		fprintf(fp, "usage: %s\n  %s\n",
		    json_string_value(json_object_get(res, "usage")),
		    json_string_value(json_object_get(res, "doc")));
		return;
	}
	json_array_foreach(cmds, i, c) {
		size_t len = strlen(json_string_value(json_object_get(c,
		    "usage")));

		if (len > width)
			width = len;
	}
	json_array_foreach(cmds, i, c)
		fprintf(fp, "%-*s  %s\n", (int)width,
		    json_string_value(json_object_get(c, "usage")),
		    json_string_value(json_object_get(c, "doc")));
}

/* Run one command line and print its answer; returns the exit code. */
static int
ctl_run(struct ctl *ctl, const char *line)
{
	char word[16], *text;
	json_t *res;
	int rv;

	if (ctl_send(ctl, line) == -1)
		return EXIT_UNREACHABLE;
	rv = ctl_read(ctl, word, sizeof(word), &res);
	if (res == NULL)
		return rv;
	if (ctl->json) {
		if ((text = json_dumps(res, JSON_INDENT(2))) != NULL) {
			printf("%s\n", text);
			free(text);
		}
	} else if (rv != EXIT_OK) {
		const char *e = json_string_value(json_object_get(res, "error"));

		ctl_err("%s", e != NULL ? e : "the command failed");
	} else if (strncmp(line, "help", 4) == 0 &&
	    (line[4] == '\0' || line[4] == ' '))
		ctl_render_help(stdout, res);
	else if (json_is_object(res) && json_object_size(res) == 0)
		;	/* Nothing to say: `quit`. */
	else
		ctl_render_value(stdout, res);
	fflush(stdout);
	json_decref(res);
	return rv;
}

static int
ctl_base64(const unsigned char *in, size_t len, char **out)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *o;
	size_t i, j = 0;

	if ((o = malloc((len + 2) / 3 * 4 + 1)) == NULL)
		return -1;
	for (i = 0; i + 2 < len; i += 3) {
		o[j++] = tab[in[i] >> 2];
		o[j++] = tab[(in[i] & 3) << 4 | in[i + 1] >> 4];
		o[j++] = tab[(in[i + 1] & 15) << 2 | in[i + 2] >> 6];
		o[j++] = tab[in[i + 2] & 63];
	}
	if (i < len) {
		o[j++] = tab[in[i] >> 2];
		if (i + 1 < len) {
			o[j++] = tab[(in[i] & 3) << 4 | in[i + 1] >> 4];
			o[j++] = tab[(in[i + 1] & 15) << 2];
		} else {
			o[j++] = tab[(in[i] & 3) << 4];
			o[j++] = '=';
		}
		o[j++] = '=';
	}
	o[j] = '\0';
	*out = o;
	return 0;
}

/* Whether |s| is UTF-8 a text message may carry (checked by the daemon too). */
static int
ctl_utf8(const unsigned char *s, size_t len)
{
	size_t i = 0, n;

	/* Only the shape: the daemon refuses what this lets through. */
	while (i < len) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((s[i] & 0xe0) == 0xc0)
			n = 1;
		else if ((s[i] & 0xf0) == 0xe0)
			n = 2;
		else if ((s[i] & 0xf8) == 0xf0)
			n = 3;
		else
			return 0;
		if (i + n >= len)
			return 0;
		for (size_t k = 1; k <= n; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
		i += n + 1;
	}
	return 1;
}

static char *
ctl_read_stdin(size_t *len)
{
	char *buf = NULL, *nb;
	size_t cap = 0, n;

	*len = 0;
	for (;;) {
		if (*len == cap) {
			cap = cap ? cap * 2 : 65536;
			if ((nb = realloc(buf, cap)) == NULL) {
				free(buf);
				return NULL;
			}
			buf = nb;
		}
		if ((n = fread(buf + *len, 1, cap - *len, stdin)) == 0)
			break;
		*len += n;
	}
	return buf;
}

/* Whether the daemon's usage line for |cmd| ends in a message argument. */
static int
ctl_takes_message(struct ctl *ctl, const char *cmd)
{
	json_t *cmds = json_object_get(ctl->commands, "commands"), *c;
	size_t i;

	json_array_foreach(cmds, i, c) {
		const char *name = json_string_value(json_object_get(c,
		    "command"));
		const char *use = json_string_value(json_object_get(c, "usage"));

		if (name != NULL && use != NULL && strcmp(name, cmd) == 0)
			return strstr(use, "[-b|-t]") != NULL;
	}
	return 0;
}

/* Ask the daemon for its commands (for completion and message encoding). */
static void
ctl_load_commands(struct ctl *ctl)
{
	char word[16];
	json_t *res;

	if (ctl_send(ctl, "help") == 0 &&
	    ctl_read(ctl, word, sizeof(word), &res) == EXIT_OK)
		ctl->commands = res;
	else
		json_decref(res);
}

/*
 * Build the command line from argv. For a command that takes a message,
 * the last argument is the message: "-" reads it from standard input, -b
 * sends it as binary, and anything that is not one line of UTF-8 text is
 * sent base64-encoded (-b or -t) so that it arrives byte for byte.
 */
static char *
ctl_build(struct ctl *ctl, int argc, char **argv, int *err)
{
	int msg = ctl_takes_message(ctl, argv[0]), binary = 0, first = 1;
	char *line = NULL, *enc = NULL, *data = NULL, *tmp;
	size_t dlen = 0;

	*err = 0;
	if (msg && argc > 1 && strcmp(argv[1], "-b") == 0) {
		/* Drop the -b: the message is encoded below and flagged again. */
		binary = 1;
		memmove(&argv[1], &argv[2], (size_t)(argc - 2) * sizeof(*argv));
		argc--;
	}
	if (msg && argc >= 2) {
		if (strcmp(argv[argc - 1], "-") == 0) {
			if ((data = ctl_read_stdin(&dlen)) == NULL && dlen > 0) {
				*err = EXIT_UNREACHABLE;
				return NULL;
			}
		} else {
			dlen = strlen(argv[argc - 1]);
			if ((data = strdup(argv[argc - 1])) == NULL)
				return NULL;
		}
		if (binary || !ctl_utf8((unsigned char *)data, dlen) ||
		    memchr(data, '\n', dlen) != NULL ||
		    memchr(data, '\r', dlen) != NULL ||
		    (dlen > 0 && memchr(data, '\0', dlen) != NULL)) {
			if (!binary && !ctl_utf8((unsigned char *)data, dlen))
				binary = 1;
			if (ctl_base64((unsigned char *)data, dlen, &enc) == -1) {
				free(data);
				return NULL;
			}
		}
	}
	for (int i = 0; i < argc; i++) {
		const char *word = argv[i];

		if (msg && i == argc - 1 && argc >= 2)
			word = enc != NULL ? enc : data;
		if (asprintf(&tmp, "%s%s%s%s", line != NULL ? line : "",
		    first ? "" : " ", word,
		    i == 0 && enc != NULL ? (binary ? " -b" : " -t") : "") == -1)
			tmp = NULL;
		free(line);
		if ((line = tmp) == NULL)
			break;
		first = 0;
	}
	free(enc);
	free(data);
	return line;
}

#ifdef HAVE_LIBEDIT
static struct ctl *ctl_completing;

static char *
ctl_complete_command(const char *text, int state)
{
	static size_t idx;
	json_t *cmds = json_object_get(ctl_completing->commands, "commands");
	const char *name;

	if (state == 0)
		idx = 0;
	while (idx < json_array_size(cmds)) {
		name = json_string_value(json_object_get(json_array_get(cmds,
		    idx++), "command"));
		if (name != NULL && strncmp(name, text, strlen(text)) == 0)
			return strdup(name);
	}
	return NULL;
}

static char *
ctl_complete_word(const char *text, int state)
{
	static const char *const words[] = { "debug", "on", "off", "error",
	    "warning", "notice", "info", NULL };
	static size_t idx;

	if (state == 0)
		idx = 0;
	while (words[idx] != NULL)
		if (strncmp(words[idx++], text, strlen(text)) == 0)
			return strdup(words[idx - 1]);
	return NULL;
}

/* Commands complete in the first word and after `help`; a few keywords after. */
static char **
ctl_complete(const char *text, int start, int end)
{
	rl_attempted_completion_over = 1;
	if (start == 0 || strncmp(rl_line_buffer, "help ", 5) == 0)
		return rl_completion_matches(text, ctl_complete_command);
	return rl_completion_matches(text, ctl_complete_word);
}

static char *
ctl_history_file(void)
{
	const char *home = getenv("HOME");
	char *path;

	if (home == NULL || asprintf(&path, "%s/.wshubctl_history", home) ==
	    -1)
		return NULL;
	return path;
}
#endif

/* Read commands from standard input, with a prompt at a terminal. */
static int
ctl_interactive(struct ctl *ctl)
{
	int tty = isatty(STDIN_FILENO), worst = EXIT_OK, rv;
	char *line = NULL;
#ifdef HAVE_LIBEDIT
	char *hist = NULL;

	if (tty) {
		ctl_completing = ctl;
		rl_readline_name = "wshubctl";
		rl_attempted_completion_function = ctl_complete;
		using_history();
		if ((hist = ctl_history_file()) != NULL)
			read_history(hist);
		printf("wshubd admin (protocol %d): 'help' lists commands, "
		    "'quit' or ^D ends\n", CTL_PROTOCOL);
	}
#endif
	for (;;) {
		size_t cap = 0;
		ssize_t n;

		free(line);
		line = NULL;
#ifdef HAVE_LIBEDIT
		if (tty) {
			if ((line = readline("wshubd> ")) == NULL)
				break;
		} else
#endif
		{
			if (tty && !ctl->json) {
				fputs("wshubd> ", stdout);
				fflush(stdout);
			}
			if ((n = getline(&line, &cap, stdin)) <= 0)
				break;
			if (line[n - 1] == '\n')
				line[n - 1] = '\0';
		}
		if (line[strspn(line, " \t")] == '\0')
			continue;
#ifdef HAVE_LIBEDIT
		if (tty)
			add_history(line);
#endif
		if (strcmp(line, "exit") == 0)
			break;
		rv = ctl_run(ctl, line);
		if (rv == EXIT_UNREACHABLE) {
			worst = rv;
			break;
		}
		if (!tty && rv > worst)
			worst = rv;
		if (strcmp(line, "quit") == 0 || strncmp(line, "shutdown", 8) == 0)
			break;
	}
	free(line);
#ifdef HAVE_LIBEDIT
	if (hist != NULL) {
		write_history(hist);
		history_truncate_file(hist, CTL_HISTORY_MAX);
		free(hist);
	}
#endif
	if (tty)
		putchar('\n');
	return worst;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct ctl ctl = { .fd = -1 };
	const char *sock = NULL;
	char *line;
	int ch, rv, err;

	signal(SIGPIPE, SIG_IGN);
	/* "+": options end at the command; its own may look like ours. */
	while ((ch = getopt_long(argc, argv, "+s:jVh", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			sock = optarg;
			break;
		case 'j':
			ctl.json = 1;
			break;
		case 'V':
			printf("wshubctl %s (admin protocol %d)\n",
			    PACKAGE_VERSION, CTL_PROTOCOL);
			return EXIT_OK;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if ((rv = ctl_connect(&ctl, ctl_socket_path(sock))) != EXIT_OK)
		return rv;
	ctl_load_commands(&ctl);
	if (argc == 0)
		rv = ctl_interactive(&ctl);
	else if ((line = ctl_build(&ctl, argc, argv, &err)) == NULL) {
		ctl_err("%s", err != 0 ? "cannot read the message" :
		    "out of memory");
		rv = err != 0 ? err : EXIT_UNREACHABLE;
	} else {
		rv = ctl_run(&ctl, line);
		free(line);
	}
	json_decref(ctl.commands);
	if (ctl.in != NULL)
		fclose(ctl.in);
	return rv;
}
