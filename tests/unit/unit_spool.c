// SPDX-License-Identifier: GPL-2.0-only
/* The bus's SQLite spool on its own: order, the byte bound and its exact refusals, persistence
 * across reopen, and clear refusal of files that are not a spool. */
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "test.h"
#include "vigil/log.h"
#include "vigil/spool.h"

static char last_log[2048];

static void capture_sink(enum vlog_level level, const char *comp, const char *msg, void *ctx)
{
	(void)comp;
	(void)ctx;
	if (level <= VLOG_WARN)
		snprintf(last_log, sizeof(last_log), "%s", msg);
}

static void tmp_path(char *buf, size_t n, const char *name)
{
	char dir[] = "/tmp/vigil-unit-spool.XXXXXX";

	if (!mkdtemp(dir))
		abort();
	snprintf(buf, n, "%s/%s", dir, name);
}

/* Removes the spool file, its WAL companions and the directory tmp_path made. */
static void cleanup(const char *path)
{
	char p[300], *slash;

	unlink(path);
	snprintf(p, sizeof(p), "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s", path);
	slash = strrchr(p, '/');
	if (slash) {
		*slash = 0;
		rmdir(p);
	}
}

struct collect {
	uint64_t pos[4096];
	char ids[4096][32];
	size_t n;
	bool data_ok;
};

static int collect_row(const struct vspool_row *r, void *ctx)
{
	struct collect *c = ctx;
	char want[64];

	snprintf(want, sizeof(want), "{\"n\":%llu}", (unsigned long long)r->pos);
	if (r->len != strlen(want) || memcmp(r->data, want, r->len) != 0 ||
	    strcmp(r->subject, "vigil.test") != 0)
		c->data_ok = false;
	c->pos[c->n] = r->pos;
	snprintf(c->ids[c->n], sizeof(c->ids[0]), "%s", r->id);
	c->n++;
	return 0;
}

static int push_n(struct vspool *s, uint64_t pos)
{
	char data[64], id[32];

	snprintf(data, sizeof(data), "{\"n\":%llu}", (unsigned long long)pos);
	snprintf(id, sizeof(id), "p-%llu", (unsigned long long)pos);
	return vspool_push(s, pos, id, "vigil.test", data, strlen(data), false);
}

static void test_order_and_delete(void)
{
	char path[256];
	struct collect c = { .data_ok = true };
	struct vspool *s;

	tmp_path(path, sizeof(path), "spool.db");
	s = vspool_open(path, 0);
	if (!ASSERT_NOT_NULL(s, "open"))
		return;
	/* pushed out of order on purpose: the spool orders by pos, like a respooled window */
	for (uint64_t p = 100; p <= 300; p++)
		ASSERT_OK(push_n(s, p), "push");
	for (uint64_t p = 10; p < 20; p++)
		ASSERT_OK(push_n(s, p), "push lower pos");
	ASSERT_EQ(push_n(s, 150), -EEXIST, "duplicate pos refused");
	ASSERT_EQ(vspool_rows(s), 211, "rows");
	ASSERT_EQ(vspool_read(s, 0, 4096, collect_row, &c), 211, "read all");
	ASSERT_TRUE(c.data_ok, "row contents");
	for (size_t i = 1; i < c.n; i++)
		if (!ASSERT_GE(c.pos[i], c.pos[i - 1] + 1, "ascending pos"))
			break;
	ASSERT_EQ(c.pos[0], 10, "first");
	ASSERT_EQ(c.pos[210], 300, "last");
	ASSERT_STREQ(c.ids[0], "p-10", "id kept");

	/* read after a cursor, limited */
	c.n = 0;
	ASSERT_EQ(vspool_read(s, 150, 5, collect_row, &c), 5, "read after 150");
	ASSERT_EQ(c.pos[0], 151, "cursor");
	ASSERT_EQ(c.pos[4], 155, "limit");

	for (uint64_t p = 10; p < 20; p++)
		ASSERT_OK(vspool_delete(s, p), "delete");
	ASSERT_OK(vspool_delete(s, 99999), "missing row is fine");
	ASSERT_EQ(vspool_rows(s), 201, "rows after delete");
	c.n = 0;
	ASSERT_EQ(vspool_read(s, 0, 1, collect_row, &c), 1, "head");
	ASSERT_EQ(c.pos[0], 100, "head after delete");

	/* a range goes in one statement and keeps the counters exact */
	ASSERT_OK(vspool_delete_range(s, 100, 199), "delete range");
	ASSERT_EQ(vspool_rows(s), 101, "rows after range");
	ASSERT_EQ(vspool_bytes(s), 101 * strlen("{\"n\":200}"), "bytes after range");
	c.n = 0;
	ASSERT_EQ(vspool_read(s, 0, 1, collect_row, &c), 1, "head");
	ASSERT_EQ(c.pos[0], 200, "head after range");
	vspool_close(s);
	cleanup(path);
}

static void test_bound_drops_exactly(void)
{
	char path[256], data[100];
	struct vspool *s;
	int refused = 0, stored = 0;

	memset(data, 'x', sizeof(data));
	tmp_path(path, sizeof(path), "bound.db");
	/* 25,000 payload bytes of 100-byte events: exactly 250 fit */
	s = vspool_open(path, 25000);
	if (!ASSERT_NOT_NULL(s, "open"))
		return;
	for (uint64_t p = 1; p <= 400; p++) {
		int err = vspool_push(s, p, "id", "vigil.t", data, sizeof(data), false);
		if (err == -ENOSPC)
			refused++;
		else if (ASSERT_OK(err, "push"))
			stored++;
	}
	ASSERT_EQ(stored, 250, "stored up to the bound");
	ASSERT_EQ(refused, 150, "refused exactly the excess");
	ASSERT_EQ(vspool_bytes(s), 25000, "bytes");
	/* forced rows (a window written back) go past the bound */
	ASSERT_OK(vspool_push(s, 1000, "id", "vigil.t", data, sizeof(data), true), "forced");
	ASSERT_EQ(vspool_bytes(s), 25100, "bytes after force");
	/* deleting makes room again, byte-exact */
	ASSERT_OK(vspool_delete(s, 1), "delete");
	ASSERT_OK(vspool_delete(s, 2), "delete");
	ASSERT_EQ(vspool_push(s, 1001, "id", "vigil.t", data, sizeof(data), false), 0,
		  "fits after deleting two");
	ASSERT_EQ(vspool_push(s, 1002, "id", "vigil.t", data, sizeof(data), false), -ENOSPC,
		  "full again");
	vspool_close(s);
	cleanup(path);
}

static void test_reopen_persists(void)
{
	char path[256];
	struct collect c = { .data_ok = true };
	struct vspool *s;

	tmp_path(path, sizeof(path), "persist.db");
	s = vspool_open(path, 0);
	if (!ASSERT_NOT_NULL(s, "open"))
		return;
	/* more than one batch, and the last batch left open: close must commit it */
	for (uint64_t p = 1; p <= 3000; p++)
		ASSERT_OK(push_n(s, p), "push");
	ASSERT_OK(vspool_delete(s, 1), "delete");
	vspool_close(s);

	s = vspool_open(path, 0);
	if (!ASSERT_NOT_NULL(s, "reopen"))
		return;
	ASSERT_EQ(vspool_rows(s), 2999, "rows survive");
	ASSERT_EQ(vspool_max_pos(s), 3000, "max pos");
	ASSERT_EQ(vspool_read(s, 0, 4096, collect_row, &c), 2999, "read");
	ASSERT_TRUE(c.data_ok, "contents survive");
	ASSERT_EQ(c.pos[0], 2, "first");
	ASSERT_EQ(c.pos[2998], 3000, "last");
	vspool_close(s);
	{
		struct stat st;
		if (ASSERT_OK(stat(path, &st), "stat"))
			ASSERT_EQ(st.st_mode & 0777, 0600, "a new spool is private to its owner");
	}
	cleanup(path);
}

static void test_committed_batch_visible_to_other_reader(void)
{
	char path[256];
	struct vspool *s, *r;

	tmp_path(path, sizeof(path), "commit.db");
	s = vspool_open(path, 0);
	if (!ASSERT_NOT_NULL(s, "open"))
		return;
	ASSERT_OK(push_n(s, 1), "push");
	ASSERT_OK(vspool_commit(s), "commit");
	/* a second connection (another process would see the same) reads the committed row */
	r = vspool_open(path, 0);
	if (ASSERT_NOT_NULL(r, "second open")) {
		ASSERT_EQ(vspool_rows(r), 1, "committed row visible");
		vspool_close(r);
	}
	vspool_close(s);
	cleanup(path);
}

static void write_file(const char *path, const void *data, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || write(fd, data, n) != (ssize_t)n)
		abort();
	close(fd);
}

static void test_not_a_database(void)
{
	char path[256], junk[8192];
	struct vspool *s;

	tmp_path(path, sizeof(path), "junk.db");
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (char)(i * 7 + 3);
	write_file(path, junk, sizeof(junk));
	vlog_set_sink(capture_sink, NULL);
	errno = 0;
	s = vspool_open(path, 0);
	vlog_set_sink(NULL, NULL);
	ASSERT_TRUE(s == NULL, "refused");
	ASSERT_EQ(errno, EINVAL, "errno");
	ASSERT_STRCONTAINS(last_log, path, "message names the file");
	ASSERT_STRCONTAINS(last_log, "move it away", "message says what to do");
	cleanup(path);
}

static void test_corrupt_database(void)
{
	char path[256];
	struct vspool *s;
	struct stat st;
	int fd;

	tmp_path(path, sizeof(path), "corrupt.db");
	s = vspool_open(path, 0);
	if (!ASSERT_NOT_NULL(s, "open"))
		return;
	for (uint64_t p = 1; p <= 2000; p++)
		push_n(s, p);
	vspool_close(s);
	/* keep the valid header, overwrite the b-tree pages after it */
	if (!ASSERT_OK(stat(path, &st), "stat"))
		return;
	fd = open(path, O_WRONLY);
	if (!ASSERT_GE(fd, 0, "open for damage"))
		return;
	for (off_t off = 4096; off < st.st_size; off += 4096) {
		char junk[512];
		memset(junk, 0xa5, sizeof(junk));
		if (pwrite(fd, junk, sizeof(junk), off) != (ssize_t)sizeof(junk))
			break;
	}
	close(fd);
	vlog_set_sink(capture_sink, NULL);
	last_log[0] = 0;
	s = vspool_open(path, 0);
	vlog_set_sink(NULL, NULL);
	ASSERT_TRUE(s == NULL, "refused");
	ASSERT_STRCONTAINS(last_log, path, "message names the file");
	ASSERT_STRCONTAINS(last_log, "move it away", "message says what to do");
	cleanup(path);
}

static void test_unwritable_directory(void)
{
	struct vspool *s;

	vlog_set_sink(capture_sink, NULL);
	s = vspool_open("/nonexistent-dir-vigil/spool.db", 0);
	vlog_set_sink(NULL, NULL);
	ASSERT_TRUE(s == NULL, "refused");
	ASSERT_STRCONTAINS(last_log, "/nonexistent-dir-vigil/spool.db", "names the file");
}

TESTS(T(test_order_and_delete), T(test_bound_drops_exactly), T(test_reopen_persists),
      T(test_committed_batch_visible_to_other_reader), T(test_not_a_database),
      T(test_corrupt_database), T(test_unwritable_directory))
