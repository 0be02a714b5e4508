/*
 * vgtest: the few macros the unit tests need. A failed CHECK prints the
 * file, line and expression and marks the test failed; main returns
 * vgtest_result() so ctest sees it.
 */
#ifndef VGTEST_H
#define VGTEST_H

#include <stdio.h>
#include <string.h>

static int vgtest_failures;
static int vgtest_checks;

#define CHECK(cond) do { \
	vgtest_checks++; \
	if(!(cond)){ \
		vgtest_failures++; \
		fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
	} \
} while(0)

#define CHECK_STR(a, b) do { \
	const char *vgt_a = (a), *vgt_b = (b); \
	vgtest_checks++; \
	if(vgt_a == NULL || vgt_b == NULL || strcmp(vgt_a, vgt_b) != 0){ \
		vgtest_failures++; \
		fprintf(stderr, "%s:%d: CHECK_STR failed: %s == \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #a, \
				vgt_a ? vgt_a : "(null)", vgt_b ? vgt_b : "(null)"); \
	} \
} while(0)

#define CHECK_INT(a, b) do { \
	long long vgt_a = (long long)(a), vgt_b = (long long)(b); \
	vgtest_checks++; \
	if(vgt_a != vgt_b){ \
		vgtest_failures++; \
		fprintf(stderr, "%s:%d: CHECK_INT failed: %s == %lld, expected %lld\n", __FILE__, __LINE__, #a, vgt_a, vgt_b); \
	} \
} while(0)

static inline int vgtest_result(const char *name)
{
	if(vgtest_failures){
		fprintf(stderr, "%s: %d of %d checks failed\n", name, vgtest_failures, vgtest_checks);
		return 1;
	}
	printf("%s: %d checks passed\n", name, vgtest_checks);
	return 0;
}

#endif
