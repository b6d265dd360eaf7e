/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Vigil's C test harness, in the manner of the kernel's BPF selftests: assertions return bool so a
 * test can bail out cleanly (`if (!ASSERT_OK(err, "attach")) goto out;`), and each test runs in a
 * forked child so a crash or a hang in one is reported as that test's FAIL, not the end of the run.
 *
 * Every test prints exactly one result line that tests/run counts:
 *   PASS <program>/<test>
 *   FAIL <program>/<test>: <first failed assertion>
 *   SKIP <program>/<test>: <reason>
 *
 * A file lists its tests at the end:
 *   TESTS(T(test_a), T(test_b))
 * Run one test by name: build/tests/unit_config test_a
 */
#ifndef VIGIL_TEST_H
#define VIGIL_TEST_H

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

struct test_case {
	const char *name;
	void (*fn)(void);
};

/* State of the running test (in the child process). */
static char test__msg[1024];
static int test__failed;
static int test__skipped;

static inline bool test__fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
#include <stdarg.h>
static inline bool test__fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	char buf[768];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "  %s:%d: %s\n", file, line, buf);
	if (!test__failed)
		snprintf(test__msg, sizeof(test__msg), "%s:%d: %s", file, line, buf);
	test__failed = 1;
	return false;
}

#define ASSERT_TRUE(cond, what)                                                                   \
	((cond) ? true : test__fail(__FILE__, __LINE__, "%s: expected true: %s", (what), #cond))
#define ASSERT_FALSE(cond, what)                                                                  \
	(!(cond) ? true : test__fail(__FILE__, __LINE__, "%s: expected false: %s", (what), #cond))
#define ASSERT_OK(err, what)                                                                      \
	({                                                                                        \
		long long ___e = (long long)(err);                                                \
		___e == 0 ? true                                                                  \
			  : test__fail(__FILE__, __LINE__, "%s: returned %lld (%s)", (what), ___e,   \
				       strerror(___e < 0 ? (int)-___e : errno));                   \
	})
#define ASSERT_ERR(err, what)                                                                     \
	({                                                                                        \
		long long ___e = (long long)(err);                                                \
		___e < 0 ? true : test__fail(__FILE__, __LINE__, "%s: expected an error, got %lld", \
					     (what), ___e);                                        \
	})
#define ASSERT_EQ(a, b, what)                                                                     \
	({                                                                                        \
		long long ___a = (long long)(a), ___b = (long long)(b);                           \
		___a == ___b ? true                                                               \
			     : test__fail(__FILE__, __LINE__, "%s: %s == %lld, expected %lld",      \
					  (what), #a, ___a, ___b);                                 \
	})
#define ASSERT_NEQ(a, b, what)                                                                    \
	({                                                                                        \
		long long ___a = (long long)(a), ___b = (long long)(b);                           \
		___a != ___b ? true                                                               \
			     : test__fail(__FILE__, __LINE__, "%s: %s == %lld, expected otherwise", \
					  (what), #a, ___a);                                       \
	})
#define ASSERT_GE(a, b, what)                                                                     \
	({                                                                                        \
		long long ___a = (long long)(a), ___b = (long long)(b);                           \
		___a >= ___b ? true                                                               \
			     : test__fail(__FILE__, __LINE__, "%s: %s == %lld, expected >= %lld",   \
					  (what), #a, ___a, ___b);                                 \
	})
#define ASSERT_LE(a, b, what)                                                                     \
	({                                                                                        \
		long long ___a = (long long)(a), ___b = (long long)(b);                           \
		___a <= ___b ? true                                                               \
			     : test__fail(__FILE__, __LINE__, "%s: %s == %lld, expected <= %lld",   \
					  (what), #a, ___a, ___b);                                 \
	})
#define ASSERT_STREQ(a, b, what)                                                                  \
	({                                                                                        \
		const char *___a = (a), *___b = (b);                                              \
		(___a && ___b && strcmp(___a, ___b) == 0)                                         \
			? true                                                                    \
			: test__fail(__FILE__, __LINE__, "%s: %s == \"%s\", expected \"%s\"", (what), \
				     #a, ___a ? ___a : "(null)", ___b ? ___b : "(null)");          \
	})
#define ASSERT_STRCONTAINS(hay, needle, what)                                                     \
	({                                                                                        \
		const char *___h = (hay), *___n = (needle);                                       \
		(___h && strstr(___h, ___n))                                                      \
			? true                                                                    \
			: test__fail(__FILE__, __LINE__, "%s: \"%s\" does not contain \"%s\"",      \
				     (what), ___h ? ___h : "(null)", ___n);                        \
	})
#define ASSERT_NOT_NULL(p, what)                                                                  \
	((p) != NULL ? true : test__fail(__FILE__, __LINE__, "%s: %s is NULL (errno %d: %s)", (what), \
					 #p, errno, strerror(errno)))

/* Marks the running test skipped; the caller returns right after. */
#define TEST_SKIP(...)                                                                            \
	do {                                                                                      \
		snprintf(test__msg, sizeof(test__msg), __VA_ARGS__);                              \
		test__skipped = 1;                                                        \
	} while (0)

#define T(fn) { #fn, fn }

/* True when the running kernel's release is @major.@minor or later. */
static inline bool test_kernel_at_least(int major, int minor)
{
	struct utsname u;
	int ma = 0, mi = 0;

	if (uname(&u) || sscanf(u.release, "%d.%d", &ma, &mi) != 2)
		return false;
	return ma > major || (ma == major && mi >= minor);
}

/* Seconds a single test may take before it is killed and reported as failed. */
#ifndef TEST_TIMEOUT
#define TEST_TIMEOUT 300
#endif

static inline int test__run(const char *prog, const struct test_case *tc, int n, int argc,
			    char **argv)
{
	int failed = 0, ran = 0;
	const char *base = strrchr(prog, '/') ? strrchr(prog, '/') + 1 : prog;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 0; i < n; i++) {
		int pfd[2], status = 0;
		char msg[1024] = "";
		pid_t pid;

		if (argc > 1) {
			int want = 0;
			for (int a = 1; a < argc; a++)
				want |= strcmp(argv[a], tc[i].name) == 0;
			if (!want)
				continue;
		}
		ran++;
		if (pipe(pfd))
			return 2;
		fflush(NULL);
		pid = fork();
		if (pid == 0) {
			/* child: run the test, send back status byte + message */
			close(pfd[0]);
			alarm(TEST_TIMEOUT);
			tc[i].fn();
			char st = test__failed ? 'F' : test__skipped ? 'S' : 'P';
			if (write(pfd[1], &st, 1) != 1 ||
			    write(pfd[1], test__msg, strlen(test__msg)) < 0)
				_exit(3);
			fflush(NULL);
			_exit(0);
		}
		close(pfd[1]);
		char st = 0;
		ssize_t r = read(pfd[0], &st, 1);
		ssize_t m = r == 1 ? read(pfd[0], msg, sizeof(msg) - 1) : 0;
		msg[m > 0 ? m : 0] = 0;
		close(pfd[0]);
		waitpid(pid, &status, 0);
		if (r != 1) {
			if (WIFSIGNALED(status))
				snprintf(msg, sizeof(msg), "killed by signal %d (%s)%s",
					 WTERMSIG(status), strsignal(WTERMSIG(status)),
					 WTERMSIG(status) == SIGALRM ? ": timed out" : "");
			else
				snprintf(msg, sizeof(msg), "exited with status %d before reporting",
					 WEXITSTATUS(status));
			st = 'F';
		}
		if (st == 'P')
			printf("PASS %s/%s\n", base, tc[i].name);
		else if (st == 'S')
			printf("SKIP %s/%s: %s\n", base, tc[i].name, msg);
		else {
			printf("FAIL %s/%s: %s\n", base, tc[i].name, msg);
			failed++;
		}
	}
	if (argc > 1 && ran == 0) {
		fprintf(stderr, "%s: no test named %s\n", base, argv[1]);
		return 2;
	}
	return failed ? 1 : 0;
}

#define TESTS(...)                                                                                \
	static const struct test_case test__cases[] = { __VA_ARGS__ };                            \
	int main(int argc, char **argv)                                                           \
	{                                                                                         \
		return test__run(argv[0], test__cases,                                            \
				 (int)(sizeof(test__cases) / sizeof(test__cases[0])), argc, argv); \
	}

#endif
