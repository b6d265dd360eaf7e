// SPDX-License-Identifier: GPL-2.0-only
/*
 * The bus's JSON Lines sink: one object per event and line,
 *   {"subject":"vigil.rpc.call","id":"3f0c...-42","event":{...}}
 * appended to a file (or stdout for "-"). The event is inserted as given: producers build it
 * with the vjw writer, which always emits valid JSON. Lines are buffered and written whole, so a
 * reader tailing the file sees complete lines only after a flush (the bus flushes every tick).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vigil/buf.h"
#include "vigil/log.h"
#include "bus_int.h"

#define JSONL_FLUSH_AT (64 * 1024)

struct bus_jsonl {
	int fd;
	bool own_fd;
	char *path;
	struct vbuf buf;
	bool failed; /* a write error was logged; log again only after a success */
};

struct bus_jsonl *bus_jsonl_open(const char *path)
{
	struct bus_jsonl *j = calloc(1, sizeof(*j));

	if (!j)
		return NULL;
	j->path = strdup(path);
	if (!j->path) {
		free(j);
		errno = ENOMEM;
		return NULL;
	}
	if (strcmp(path, "-") == 0) {
		j->fd = STDOUT_FILENO;
	} else {
		j->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
		if (j->fd < 0) {
			int err = errno;
			log_error("bus", "cannot open the --jsonl file %s: %s (check the directory "
				  "exists and is writable)", path, strerror(err));
			free(j->path);
			free(j);
			errno = err;
			return NULL;
		}
		j->own_fd = true;
	}
	return j;
}

/* true when @s needs no JSON escaping (subjects are checked to be [A-Za-z0-9_.-] anyway) */
static bool plain(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\')
			return false;
	}
	return true;
}

static char *put(char *d, const void *s, size_t n)
{
	memcpy(d, s, n);
	return d + n;
}

#define PUT_LIT(d, s) put(d, s, sizeof(s) - 1)

int bus_jsonl_write(struct bus_jsonl *j, const char *subject, const char *id, const char *json,
		    size_t len)
{
	struct vbuf *b = &j->buf;
	size_t start = b->len, sl = strlen(subject), il = strlen(id);
	int err;

	if (plain(subject, sl)) {
		/* the common case in one reservation and plain copies */
		char *d;

		if (vbuf_reserve(b, sl + il + (len ? len : 4) + 40))
			return -ENOMEM;
		d = b->data + b->len;
		d = PUT_LIT(d, "{\"subject\":\"");
		d = put(d, subject, sl);
		d = PUT_LIT(d, "\",\"id\":\"");
		d = put(d, id, il);
		d = PUT_LIT(d, "\",\"event\":");
		d = len ? put(d, json, len) : PUT_LIT(d, "null");
		d = PUT_LIT(d, "}\n");
		*d = 0;
		b->len = (size_t)(d - b->data);
		goto written;
	}
	err = vbuf_puts(b, "{\"subject\":\"");
	if (!err)
		err = vjson_escape(b, subject, sl);
	if (!err)
		err = vbuf_puts(b, "\",\"id\":\"");
	if (!err)
		err = vbuf_puts(b, id);
	if (!err)
		err = vbuf_puts(b, "\",\"event\":");
	if (!err)
		err = vbuf_append(b, len ? json : "null", len ? len : 4);
	if (!err)
		err = vbuf_puts(b, "}\n");
	if (err) {
		b->len = start; /* never leave half a line */
		return err;
	}
written:
	if (b->len >= JSONL_FLUSH_AT)
		return bus_jsonl_flush(j);
	return 0;
}

int bus_jsonl_flush(struct bus_jsonl *j)
{
	size_t off = 0;

	while (off < j->buf.len) {
		ssize_t n = write(j->fd, j->buf.data + off, j->buf.len - off);
		if (n < 0) {
			int err = errno;
			if (err == EINTR)
				continue;
			if (!j->failed)
				log_error("bus", "cannot write the --jsonl file %s: %s; events are "
					  "dropped from it until writes succeed", j->path,
					  strerror(err));
			j->failed = true;
			vbuf_reset(&j->buf);
			return -err;
		}
		off += (size_t)n;
	}
	j->failed = false;
	vbuf_reset(&j->buf);
	return 0;
}

void bus_jsonl_close(struct bus_jsonl *j)
{
	if (!j)
		return;
	bus_jsonl_flush(j);
	if (j->own_fd)
		close(j->fd);
	vbuf_free(&j->buf);
	free(j->path);
	free(j);
}
