/*
 * vg_completion: worker -> broker-thread messages (see vg_completion.h).
 * Thread: any. Memory: allocates each posted log line; frees completions
 * of every type.
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

void vg_c_idents_free(struct vg_c_idents *c)
{
	size_t i;

	if(c == NULL){
		return;
	}
	for(i = 0; i < c->n; i++){
		vg_ident_free(c->items[i]);
	}
	free(c->items);
	free(c->deleted);
	free(c);
}

void vg_c_alert_state_free(struct vg_c_alert_state *c)
{
	size_t i;

	if(c == NULL){
		return;
	}
	for(i = 0; i < c->nalerts; i++){
		free(c->alerts[i].body);
	}
	free(c->alerts);
	free(c->params);
	free(c);
}

void vg_completion_free(struct vg_job *job)
{
	size_t i;

	if(job == NULL){
		return;
	}
	switch(job->type){
		case VG_C_IDENTS:
			vg_c_idents_free((struct vg_c_idents *)job);
			return;
		case VG_C_ALERT_STATE:
		case VG_C_MIRROR:
			vg_c_alert_state_free((struct vg_c_alert_state *)job);
			return;
		case VG_C_SUPERSEDED: {
			struct vg_c_superseded *c = (struct vg_c_superseded *)job;
			for(i = 0; i < c->n; i++){
				free(c->items[i].body);
			}
			break;
		}
		case VG_C_ALERT_CFG:
			vg_alert_cfg_free(((struct vg_c_alert_cfg *)job)->cfg);
			break;
		case VG_C_CRL:
			vg_crl_free(((struct vg_c_crl *)job)->set);
			break;
		case VG_C_REDELIVER: {
			struct vg_c_redeliver *c = (struct vg_c_redeliver *)job;
			for(i = 0; i < c->n; i++){
				free(c->items[i].body);
			}
			break;
		}
		default:
			break;
	}
	free(job);
}
