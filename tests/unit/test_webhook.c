/*
 * test_webhook: how the sender classifies an attempt's answer
 * (vg_webhook_classify, bridge/webhook.h): delivered, the endpoint gone,
 * refused (this event: a bounded number of tries, then the dead letter) or
 * retry (not now: in order, until webhook_dead_after_s).
 */
#include <stdbool.h>
#include <stdio.h>

#include "webhook.h"
#include "vgtest.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
	bool answered;
	long status;
	enum vg_wh_answer want;
} cases[] = {
	/* No answer: timeout, connection refused or reset, TLS, DNS. */
	{ false, 0, VG_WH_ANS_RETRY },
	{ false, 200, VG_WH_ANS_RETRY },
	{ true, 0, VG_WH_ANS_RETRY },
	{ true, 200, VG_WH_ANS_DELIVERED }, { true, 202, VG_WH_ANS_DELIVERED }, { true, 204, VG_WH_ANS_DELIVERED },
	{ true, 299, VG_WH_ANS_DELIVERED },
	/* Redirects are not followed: the endpoint's configuration, not the event's fault. */
	{ true, 301, VG_WH_ANS_RETRY }, { true, 302, VG_WH_ANS_RETRY }, { true, 307, VG_WH_ANS_RETRY },
	{ true, 308, VG_WH_ANS_RETRY },
	/* The endpoint refuses this event. */
	{ true, 400, VG_WH_ANS_REFUSED }, { true, 401, VG_WH_ANS_REFUSED }, { true, 403, VG_WH_ANS_REFUSED },
	{ true, 404, VG_WH_ANS_REFUSED }, { true, 405, VG_WH_ANS_REFUSED }, { true, 413, VG_WH_ANS_REFUSED },
	{ true, 415, VG_WH_ANS_REFUSED }, { true, 422, VG_WH_ANS_REFUSED }, { true, 499, VG_WH_ANS_REFUSED },
	/* ... except these, which say "not now". */
	{ true, 408, VG_WH_ANS_RETRY }, { true, 409, VG_WH_ANS_RETRY }, { true, 425, VG_WH_ANS_RETRY },
	{ true, 429, VG_WH_ANS_RETRY },
	{ true, 410, VG_WH_ANS_GONE },
	{ true, 500, VG_WH_ANS_RETRY }, { true, 502, VG_WH_ANS_RETRY }, { true, 503, VG_WH_ANS_RETRY },
	{ true, 504, VG_WH_ANS_RETRY }, { true, 599, VG_WH_ANS_RETRY },
	{ true, 100, VG_WH_ANS_RETRY }, { true, 600, VG_WH_ANS_RETRY },
};

int main(void)
{
	size_t i;

	for(i = 0; i < NELEM(cases); i++){
		enum vg_wh_answer got = vg_webhook_classify(cases[i].answered, cases[i].status);
		CHECK_INT(got, cases[i].want);
		if(got != cases[i].want){
			fprintf(stderr, "  answered %d, status %ld\n", cases[i].answered, cases[i].status);
		}
	}
	return vgtest_result("test_webhook");
}
