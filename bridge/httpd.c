/*
 * httpd: the HTTP endpoint for /metrics (Prometheus text exposition 0.0.4)
 * and /health (JSON; 200 when the database is reachable, the writer keeps
 * up, the journal accepts and the webhook endpoints answer, else 503). The
 * documents are rendered on the broker thread by plugin/stats.c, through
 * the render callback TICK passes to vg_httpd_tick.
 *
 * DESIGN
 *  - One server thread runs a poll(2) loop over non-blocking sockets: the
 *    listening socket, up to CONN_MAX connections, an eventfd to stop and an
 *    eventfd the broker thread signals after a rendering. No call blocks on
 *    a client, so a slow or idle client costs one slot and delays nobody.
 *  - Each connection has its own deadline: REQ_TIMEOUT_MS from accept to a
 *    complete request head (an idle or trickling client is closed without
 *    an answer), RENDER_WAIT_MS for a rendering, SEND_TIMEOUT_MS to take the
 *    response. HTTP/1.0 style: one request, Connection: close.
 *  - Past CONN_MAX connections, the oldest one that has not yet sent a
 *    complete request is closed to make room (a flood of idle sockets cannot
 *    lock a health probe out); if every slot holds a complete request, the
 *    newcomer is closed at once. The kernel's backlog holds LISTEN_BACKLOG.
 *  - The figures belong to the broker thread, so this thread never reads
 *    them. Each document (/metrics, /health) has a copy under the mutex,
 *    rendered by TICK. A request finding a copy at most FRESH_MS old is
 *    answered from it at once; otherwise it raises the document's flag and
 *    waits (without blocking the loop) for the next TICK, at most ~100 ms on
 *    an idle broker, which signals wakefd. While a document keeps being
 *    requested (last request within KEEP_WARM_MS), TICK re-renders it every
 *    REFRESH_MS, so a periodic probe (HAProxy's health check) is answered
 *    from memory without waiting, and the broker thread renders each
 *    document at most a few times a second however many requests come. A
 *    broker thread that does not answer within RENDER_WAIT_MS gets the
 *    previous rendering served (with its age in a header), or 503 if there
 *    is none.
 *  - Anything but GET/HEAD of the two paths is 400/404/405. Bound to
 *    metrics_address (loopback by default).
 *
 * Thread: vg_httpd_start/stop and vg_httpd_tick on the broker thread;
 * the server thread owns the sockets and the connection table. Memory: the
 * documents live as long as the endpoint; a connection's response buffer
 * lives until it is closed.
 */
#include "httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vg_sbuf.h"
#include "vg_util.h"

#define CONN_MAX 128
#define LISTEN_BACKLOG 128
#define REQ_MAX 2048
#define REQ_TIMEOUT_MS 2000
#define RENDER_WAIT_MS 2000
#define SEND_TIMEOUT_MS 5000
#define FRESH_MS 1000
#define REFRESH_MS 500
#define KEEP_WARM_MS 10000
#define EMFILE_PAUSE_MS 100

enum doc_kind { DOC_METRICS = VG_HTTPD_METRICS, DOC_HEALTH = VG_HTTPD_HEALTH, DOC__COUNT };

/* One rendered document. */
struct doc {
	struct vg_sbuf body;       /* (mu) */
	int status;                /* (mu) */
	int64_t rendered_ms;       /* (mu) monotonic; 0: never */
	uint64_t gen;              /* (mu) renderings so far */
	atomic_bool wanted;        /* a request waits for (or asked for) a fresh one */
	atomic_int_fast64_t asked_ms; /* last request for it (monotonic): keeps it warm */
	int64_t tick_rendered_ms;  /* broker thread's copy of rendered_ms */
};

enum conn_state { C_FREE = 0, C_READ, C_WAIT, C_SEND };

struct conn {
	int fd;
	enum conn_state state;
	int64_t accepted_ms;
	int64_t deadline_ms;
	enum doc_kind kind;        /* C_WAIT */
	bool head;
	uint64_t wait_gen;         /* C_WAIT: the rendering it waits to pass */
	size_t len;                /* request bytes read */
	char req[REQ_MAX];
	struct vg_sbuf out;        /* C_SEND: the response */
	size_t sent;
};

struct vg_httpd {
	int lfd;
	int stopfd;                /* eventfd: stop */
	int wakefd;                /* eventfd: TICK rendered a document */
	pthread_t thread;
	pthread_mutex_t mu;
	struct doc docs[DOC__COUNT];
	struct conn *conns;        /* server thread: CONN_MAX slots */
	struct pollfd *pfd;        /* server thread: CONN_MAX + 3 */
	int *pslot;                /* server thread: pollfd index -> connection */
	int64_t accept_paused_until; /* server thread: out of descriptors */
};

static const char *const doc_type[DOC__COUNT] = {
	[DOC_METRICS] = "text/plain; version=0.0.4; charset=utf-8",
	[DOC_HEALTH] = "application/json",
};

/* ---- server thread ------------------------------------------------------ */

static void conn_close(struct conn *c)
{
	close(c->fd);
	vg_sbuf_free(&c->out);
	c->fd = -1;
	c->state = C_FREE;
}

/* Builds the response and switches the connection to sending it. */
static void respond(struct conn *c, int status, const char *type, const char *body, size_t len, int64_t age_ms,
		int64_t now)
{
	const char *reason = status == 200 ? "OK" : status == 503 ? "Service Unavailable" : status == 404 ? "Not Found"
		: status == 405 ? "Method Not Allowed" : "Bad Request";

	vg_sbuf_init(&c->out);
	vg_sbuf_printf(&c->out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nCache-Control: no-store\r\n"
			"Connection: close\r\n", status, reason, type, len);
	if(age_ms >= 0){
		vg_sbuf_printf(&c->out, "Age: %lld\r\n", (long long)(age_ms / 1000));
	}
	vg_sbuf_puts(&c->out, "\r\n");
	if(!c->head){
		vg_sbuf_put(&c->out, body, len);
	}
	c->sent = 0;
	c->state = C_SEND;
	c->deadline_ms = now + SEND_TIMEOUT_MS;
}

/* Answers from the document's current rendering (mu held by the caller). */
static void respond_doc(struct vg_httpd *m, struct conn *c, int64_t now)
{
	struct doc *d = &m->docs[c->kind];

	if(d->rendered_ms == 0 || !vg_sbuf_ok(&d->body)){
		respond(c, 503, "text/plain", "the broker thread has not answered yet\n", 39, -1, now);
	}else{
		respond(c, d->status, doc_type[c->kind], d->body.p ? d->body.p : "", d->body.len,
				now - d->rendered_ms, now);
	}
}

/* A complete request head: parse it, then answer now or wait for TICK. */
static void handle_request(struct vg_httpd *m, struct conn *c, int64_t now)
{
	char method[8], path[128];
	struct doc *d;

	c->head = false;
	if(sscanf(c->req, "%7s %127s", method, path) != 2){
		respond(c, 400, "text/plain", "bad request\n", 12, -1, now);
		return;
	}
	c->head = !strcmp(method, "HEAD");
	if(!c->head && strcmp(method, "GET") != 0){
		respond(c, 405, "text/plain", "only GET and HEAD\n", 18, -1, now);
		return;
	}
	path[strcspn(path, "?")] = '\0';
	if(!strcmp(path, "/metrics")){
		c->kind = DOC_METRICS;
	}else if(!strcmp(path, "/health")){
		c->kind = DOC_HEALTH;
	}else{
		respond(c, 404, "text/plain", "try /metrics or /health\n", 24, -1, now);
		return;
	}
	d = &m->docs[c->kind];
	atomic_store(&d->asked_ms, now);   /* keeps it warm (vg_httpd_tick) */
	pthread_mutex_lock(&m->mu);
	if(d->rendered_ms != 0 && now - d->rendered_ms <= FRESH_MS){
		respond_doc(m, c, now);
	}else{
		c->state = C_WAIT;
		c->wait_gen = d->gen;
		c->deadline_ms = now + RENDER_WAIT_MS;
		atomic_store(&d->wanted, true);
	}
	pthread_mutex_unlock(&m->mu);
}

static void on_readable(struct vg_httpd *m, struct conn *c, int64_t now)
{
	ssize_t n = recv(c->fd, c->req + c->len, sizeof(c->req) - 1 - c->len, 0);

	if(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)){
		return;
	}
	if(n <= 0){
		conn_close(c);    /* closed or reset before a complete request */
		return;
	}
	c->len += (size_t)n;
	c->req[c->len] = '\0';
	if(strstr(c->req, "\r\n\r\n") || strstr(c->req, "\n\n")){
		handle_request(m, c, now);
	}else if(c->len + 1 >= sizeof(c->req)){
		respond(c, 400, "text/plain", "request head too large\n", 23, -1, now);
	}
}

/* Sends what the socket takes; closes the connection when all is sent (or
 * the client went away). */
static void on_writable(struct conn *c)
{
	if(!vg_sbuf_ok(&c->out)){
		conn_close(c);    /* out of memory building the response */
		return;
	}
	while(c->sent < c->out.len){
		ssize_t w = send(c->fd, c->out.p + c->sent, c->out.len - c->sent, MSG_NOSIGNAL);
		if(w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)){
			return;
		}
		if(w <= 0){
			break;
		}
		c->sent += (size_t)w;
	}
	conn_close(c);   /* all sent, or the client went away */
}

/* A slot for a new connection; at the bound, the oldest connection still
 * reading its request is closed to make room. NULL if every slot holds a
 * complete request. */
static struct conn *free_slot(struct vg_httpd *m)
{
	struct conn *oldest = NULL;
	int i;

	for(i = 0; i < CONN_MAX; i++){
		struct conn *c = &m->conns[i];
		if(c->state == C_FREE){
			return c;
		}
		if(c->state == C_READ && (oldest == NULL || c->accepted_ms < oldest->accepted_ms)){
			oldest = c;
		}
	}
	if(oldest){
		conn_close(oldest);
	}
	return oldest;
}

static void accept_all(struct vg_httpd *m, int64_t now)
{
	for(;;){
		struct conn *c;
		int fd = accept4(m->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if(fd < 0){
			if(errno == EMFILE || errno == ENFILE){
				/* Out of descriptors (the broker holds most): stop
				 * accepting for a moment; the backlog waits. */
				m->accept_paused_until = now + EMFILE_PAUSE_MS;
			}
			return;   /* EAGAIN: all taken; anything else: the next round */
		}
		c = free_slot(m);
		if(c == NULL){
			close(fd);
			continue;
		}
		c->fd = fd;
		c->state = C_READ;
		c->accepted_ms = now;
		c->deadline_ms = now + REQ_TIMEOUT_MS;
		c->len = 0;
		c->req[0] = '\0';
	}
}

/* TICK rendered something: answer the connections waiting for it. */
static void on_rendered(struct vg_httpd *m, int64_t now)
{
	uint64_t v;
	int i;

	if(read(m->wakefd, &v, sizeof(v)) < 0){
		/* EAGAIN: another wake-up took it */
	}
	pthread_mutex_lock(&m->mu);
	for(i = 0; i < CONN_MAX; i++){
		struct conn *c = &m->conns[i];
		if(c->state == C_WAIT && m->docs[c->kind].gen != c->wait_gen){
			respond_doc(m, c, now);
		}
	}
	pthread_mutex_unlock(&m->mu);
	for(i = 0; i < CONN_MAX; i++){
		if(m->conns[i].state == C_SEND && m->conns[i].sent == 0){
			on_writable(&m->conns[i]);   /* a fresh socket takes a response at once */
		}
	}
}

/* Deadlines: a request not complete in time is closed unanswered; a wait
 * for TICK gets the previous rendering; a response not taken is dropped. */
static void expire(struct vg_httpd *m, int64_t now)
{
	int i;

	for(i = 0; i < CONN_MAX; i++){
		struct conn *c = &m->conns[i];
		if(c->state == C_FREE || now < c->deadline_ms){
			continue;
		}
		if(c->state == C_WAIT){
			pthread_mutex_lock(&m->mu);
			respond_doc(m, c, now);
			pthread_mutex_unlock(&m->mu);
			on_writable(c);
		}else{
			conn_close(c);
		}
	}
}

static void *httpd_main(void *arg)
{
	struct vg_httpd *m = arg;
	struct pollfd *p = m->pfd;
	int *slot = m->pslot;

	for(;;){
		int64_t now = vg_mono_ms(), next = now + 60000;
		int n = 0, i, timeout;

		p[n++] = (struct pollfd){ m->stopfd, POLLIN, 0 };
		p[n++] = (struct pollfd){ m->wakefd, POLLIN, 0 };
		if(now >= m->accept_paused_until){
			p[n++] = (struct pollfd){ m->lfd, POLLIN, 0 };
		}else{
			next = m->accept_paused_until;
		}
		for(i = 0; i < CONN_MAX; i++){
			struct conn *c = &m->conns[i];
			if(c->state == C_FREE){
				continue;
			}
			if(c->deadline_ms < next){
				next = c->deadline_ms;
			}
			if(c->state == C_WAIT){
				continue;   /* woken by wakefd or its deadline */
			}
			slot[n] = i;
			p[n++] = (struct pollfd){ c->fd, c->state == C_READ ? POLLIN : POLLOUT, 0 };
		}
		timeout = next <= now ? 0 : (int)(next - now);
		if(poll(p, (nfds_t)n, timeout) < 0){
			if(errno == EINTR){
				continue;
			}
			break;
		}
		now = vg_mono_ms();
		if(p[0].revents){
			break;
		}
		if(p[1].revents){
			on_rendered(m, now);
		}
		for(i = 2; i < n; i++){
			struct conn *c;
			if(p[i].revents == 0){
				continue;
			}
			if(p[i].fd == m->lfd){
				accept_all(m, now);
				continue;
			}
			c = &m->conns[slot[i]];
			if(c->fd != p[i].fd){
				continue;   /* closed (made room) since the poll */
			}
			if(c->state == C_READ){
				on_readable(m, c, now);
			}
			if(c->state == C_SEND){
				on_writable(c);   /* just answered, or POLLOUT/POLLERR/POLLHUP */
			}
		}
		expire(m, now);
	}
	for(int i = 0; i < CONN_MAX; i++){
		if(m->conns[i].state != C_FREE){
			conn_close(&m->conns[i]);
		}
	}
	return NULL;
}

/* ---- broker thread ------------------------------------------------------ */

int vg_httpd_start(struct vg_httpd **out, const char *addr, int port, char *err, size_t errlen)
{
	struct vg_httpd *m;
	struct sockaddr_storage ss;
	socklen_t sl;
	int one = 1, i;

	*out = NULL;
	memset(&ss, 0, sizeof(ss));
	if(inet_pton(AF_INET, addr, &((struct sockaddr_in *)&ss)->sin_addr) == 1){
		((struct sockaddr_in *)&ss)->sin_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
		sl = sizeof(struct sockaddr_in);
	}else if(inet_pton(AF_INET6, addr, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1){
		((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
		sl = sizeof(struct sockaddr_in6);
	}else{
		snprintf(err, errlen, "plugin_opt_metrics_address: \"%s\" is not an IP address", addr);
		return -1;
	}
	m = calloc(1, sizeof(*m));
	if(m == NULL || (m->conns = calloc(CONN_MAX, sizeof(*m->conns))) == NULL
			|| (m->pfd = calloc(CONN_MAX + 3, sizeof(*m->pfd))) == NULL
			|| (m->pslot = calloc(CONN_MAX + 3, sizeof(*m->pslot))) == NULL){
		snprintf(err, errlen, "out of memory");
		if(m){
			free(m->conns);
			free(m->pfd);
		}
		free(m);
		return -1;
	}
	for(i = 0; i < CONN_MAX; i++){
		m->conns[i].fd = -1;
	}
	m->stopfd = m->wakefd = -1;
	m->lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if(m->lfd < 0 || setsockopt(m->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0
			|| bind(m->lfd, (struct sockaddr *)&ss, sl) != 0 || listen(m->lfd, LISTEN_BACKLOG) != 0){
		snprintf(err, errlen, "plugin_opt_metrics_port: cannot listen on %s port %d: %s", addr, port, strerror(errno));
		goto error;
	}
	m->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	m->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if(m->stopfd < 0 || m->wakefd < 0){
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		goto error;
	}
	for(i = 0; i < DOC__COUNT; i++){
		vg_sbuf_init(&m->docs[i].body);
		atomic_init(&m->docs[i].wanted, false);
		atomic_init(&m->docs[i].asked_ms, 0);
	}
	pthread_mutex_init(&m->mu, NULL);
	if(pthread_create(&m->thread, NULL, httpd_main, m) != 0){
		snprintf(err, errlen, "cannot start the metrics thread");
		pthread_mutex_destroy(&m->mu);
		goto error;
	}
	*out = m;
	return 0;
error:
	if(m->lfd >= 0){
		close(m->lfd);
	}
	if(m->stopfd >= 0){
		close(m->stopfd);
	}
	if(m->wakefd >= 0){
		close(m->wakefd);
	}
	free(m->conns);
	free(m->pfd);
	free(m->pslot);
	free(m);
	return -1;
}

void vg_httpd_tick(struct vg_httpd *m, vg_httpd_render_fn render, void *ctx)
{
	int64_t now;
	bool due[DOC__COUNT];
	bool any = false;
	int i;

	if(m == NULL){
		return;
	}
	now = vg_mono_ms();
	for(i = 0; i < DOC__COUNT; i++){
		struct doc *d = &m->docs[i];
		due[i] = atomic_exchange(&d->wanted, false)
			|| (now - atomic_load(&d->asked_ms) < KEEP_WARM_MS && now - d->tick_rendered_ms >= REFRESH_MS);
		any |= due[i];
	}
	if(!any){
		return;
	}
	pthread_mutex_lock(&m->mu);
	for(i = 0; i < DOC__COUNT; i++){
		struct doc *d = &m->docs[i];
		if(!due[i]){
			continue;
		}
		vg_sbuf_reset(&d->body);
		d->status = render(ctx, i, &d->body);
		d->rendered_ms = d->tick_rendered_ms = now;
		d->gen++;
	}
	pthread_mutex_unlock(&m->mu);
	{
		uint64_t one = 1;
		if(write(m->wakefd, &one, sizeof(one)) != sizeof(one)){
			/* EAGAIN only at 2^64-1 pending wake-ups: the server wakes anyway */
		}
	}
}

void vg_httpd_stop(struct vg_httpd *m)
{
	uint64_t one = 1;
	int i;

	if(m == NULL){
		return;
	}
	if(write(m->stopfd, &one, sizeof(one)) != sizeof(one)){
		/* cannot fail for a fresh eventfd */
	}
	pthread_join(m->thread, NULL);
	close(m->lfd);
	close(m->stopfd);
	close(m->wakefd);
	for(i = 0; i < DOC__COUNT; i++){
		vg_sbuf_free(&m->docs[i].body);
	}
	pthread_mutex_destroy(&m->mu);
	free(m->conns);
	free(m->pfd);
	free(m->pslot);
	free(m);
}
