/*
 * vg_completion: worker -> broker-thread messages (see vg_completion.h).
 * Thread: any. Memory: allocates each posted job; TICK frees it.
 */
#include "vg_completion.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void vg_post_logv(struct vg_queue *q, int level, const char *fmt, va_list ap)
{
	char line[1024];
	struct vg_c_log *c;
	int n;

	n = vsnprintf(line, sizeof(line), fmt, ap);
	if(n < 0){
		return;
	}
	if((size_t)n >= sizeof(line)){
		n = sizeof(line) - 1;
	}
	c = malloc(sizeof(*c) + (size_t)n + 1);
	if(c == NULL){
		return;
	}
	c->base.type = VG_C_LOG;
	c->level = level;
	memcpy(c->msg, line, (size_t)n + 1);
	/* Log lines are bounded by the queue like everything else: a storm of
	 * identical errors must not grow memory without limit. A refusal is
	 * counted in q->refused, which TICK reports. */
	if(vg_queue_push(q, &c->base) != VG_QUEUE_OK){
		free(c);
	}
}

void vg_post_log(struct vg_queue *q, int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vg_post_logv(q, level, fmt, ap);
	va_end(ap);
}
