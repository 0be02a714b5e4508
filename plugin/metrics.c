/*
 * metrics: the HTTP endpoint for /metrics (Prometheus text exposition
 * 0.0.4) and /health (JSON; 200 when the database is reachable, the writer
 * keeps up, the journal accepts and the webhook endpoints answer, else 503).
 *
 * The figures belong to the broker thread, so the HTTP thread never reads
 * them: a request raises a flag, the next TICK (at most ~100 ms later)
 * renders both documents into the shared buffers under the mutex and
 * signals, and the HTTP thread serves that copy. A broker thread that does
 * not answer within 2 s gets the previous rendering served (with its age
 * in a header) rather than a hung scrape.
 *
 * One request at a time, HTTP/1.0 style (Connection: close), 2 s to send
 * the request; anything else is 400/404/405. Bound to metrics_address
 * (loopback by default).
 *
 * Thread: vg_metrics_start/stop and vg_metrics_tick on the broker thread;
 * the server thread owns the sockets. Memory: the two buffers live as long
 * as the endpoint.
 */
#include "metrics.h"

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
#include <time.h>
#include <unistd.h>

#include "stats.h"
#include "vg_plugin.h"
#include "vg_sbuf.h"
#include "vg_util.h"

#define REQ_MAX 4096
#define REQ_TIMEOUT_MS 2000
#define RENDER_WAIT_MS 2000

struct vg_metrics {
	int lfd;
	int evfd;                  /* stop */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	atomic_bool wanted;        /* a request waits for a rendering */
	uint64_t gen;              /* renderings so far (mu) */
	int64_t rendered_ms;       /* wall clock of the last rendering (mu) */
	struct vg_sbuf prom;       /* (mu) */
	struct vg_sbuf health;     /* (mu) */
	int health_status;         /* (mu) */
	struct vg_sbuf out;        /* server thread: the response being sent */
};

static void abs_deadline(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if(ts->tv_nsec >= 1000000000L){
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Reads the request head; returns its length, or -1 (timeout, closed, too big). */
static int read_request(int fd, char *buf, size_t cap)
{
	size_t len = 0;
	int64_t end = vg_mono_ms() + REQ_TIMEOUT_MS;

	while(len + 1 < cap){
		struct pollfd p = { fd, POLLIN, 0 };
		int64_t left = end - vg_mono_ms();
		ssize_t n;
		if(left <= 0 || poll(&p, 1, (int)left) <= 0){
			return -1;
		}
		n = recv(fd, buf + len, cap - 1 - len, 0);
		if(n <= 0){
			return -1;
		}
		len += (size_t)n;
		buf[len] = '\0';
		if(strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n")){
			return (int)len;
		}
	}
	return -1;
}

static void send_all(int fd, const char *p, size_t n)
{
	int64_t end = vg_mono_ms() + REQ_TIMEOUT_MS;

	while(n > 0){
		struct pollfd pf = { fd, POLLOUT, 0 };
		int64_t left = end - vg_mono_ms();
		ssize_t w;
		if(left <= 0 || poll(&pf, 1, (int)left) <= 0){
			return;
		}
		w = send(fd, p, n, MSG_NOSIGNAL);
		if(w <= 0){
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

static void respond(struct vg_metrics *m, int fd, int status, const char *type, const char *body, size_t len,
		bool head, int64_t age_ms)
{
	const char *reason = status == 200 ? "OK" : status == 503 ? "Service Unavailable" : status == 404 ? "Not Found"
		: status == 405 ? "Method Not Allowed" : "Bad Request";

	vg_sbuf_reset(&m->out);
	vg_sbuf_printf(&m->out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nCache-Control: no-store\r\n"
			"Connection: close\r\n", status, reason, type, len);
	if(age_ms >= 0){
		vg_sbuf_printf(&m->out, "Age: %lld\r\n", (long long)(age_ms / 1000));
	}
	vg_sbuf_puts(&m->out, "\r\n");
	if(!head){
		vg_sbuf_put(&m->out, body, len);
	}
	if(vg_sbuf_ok(&m->out)){
		send_all(fd, m->out.p, m->out.len);
	}
}

/* Asks the broker thread for a fresh rendering and waits for it (bounded). */
static void await_rendering(struct vg_metrics *m)
{
	struct timespec ts;
	uint64_t gen;

	pthread_mutex_lock(&m->mu);
	gen = m->gen;
	atomic_store(&m->wanted, true);
	abs_deadline(&ts, RENDER_WAIT_MS);
	while(m->gen == gen){
		if(pthread_cond_timedwait(&m->cv, &m->mu, &ts) == ETIMEDOUT){
			break;
		}
	}
	/* mu stays locked: the caller copies out and unlocks. */
}

static void serve(struct vg_metrics *m, int fd)
{
	char req[REQ_MAX];
	char method[8], path[128];
	bool head;
	struct vg_sbuf copy;
	int status;
	int64_t age;
	const char *type;

	if(read_request(fd, req, sizeof(req)) < 0){
		return;
	}
	if(sscanf(req, "%7s %127s", method, path) != 2){
		respond(m, fd, 400, "text/plain", "bad request\n", 12, false, -1);
		return;
	}
	head = !strcmp(method, "HEAD");
	if(!head && strcmp(method, "GET") != 0){
		respond(m, fd, 405, "text/plain", "only GET and HEAD\n", 18, false, -1);
		return;
	}
	path[strcspn(path, "?")] = '\0';
	if(strcmp(path, "/metrics") != 0 && strcmp(path, "/health") != 0){
		respond(m, fd, 404, "text/plain", "try /metrics or /health\n", 24, false, -1);
		return;
	}
	await_rendering(m);
	vg_sbuf_init(&copy);
	if(!strcmp(path, "/metrics")){
		vg_sbuf_put(&copy, m->prom.p, m->prom.len);
		status = 200;
		type = "text/plain; version=0.0.4; charset=utf-8";
	}else{
		vg_sbuf_put(&copy, m->health.p, m->health.len);
		status = m->health_status;
		type = "application/json";
	}
	age = m->rendered_ms ? vg_now_ms() - m->rendered_ms : 0;
	pthread_mutex_unlock(&m->mu);
	if(m->rendered_ms == 0 || !vg_sbuf_ok(&copy)){
		respond(m, fd, 503, "text/plain", "the broker thread has not answered yet\n", 39, head, -1);
	}else{
		respond(m, fd, status, type, copy.p ? copy.p : "", copy.len, head, age);
	}
	vg_sbuf_free(&copy);
}

static void *metrics_main(void *arg)
{
	struct vg_metrics *m = arg;

	for(;;){
		struct pollfd p[2] = { { m->lfd, POLLIN, 0 }, { m->evfd, POLLIN, 0 } };
		int fd;
		if(poll(p, 2, -1) < 0){
			if(errno == EINTR){
				continue;
			}
			break;
		}
		if(p[1].revents){
			break;
		}
		fd = accept4(m->lfd, NULL, NULL, SOCK_CLOEXEC);
		if(fd < 0){
			if(errno == EMFILE || errno == ENFILE){
				/* Out of descriptors (the broker holds most): try later. */
				struct timespec ts = { 0, 100000000L };
				nanosleep(&ts, NULL);
			}
			continue;
		}
		serve(m, fd);
		close(fd);
	}
	return NULL;
}

int vg_metrics_start(struct vg_metrics **out, const char *addr, int port, char *err, size_t errlen)
{
	struct vg_metrics *m;
	struct sockaddr_storage ss;
	socklen_t sl;
	int one = 1;

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
	if(m == NULL){
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	m->evfd = -1;
	m->lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if(m->lfd < 0 || setsockopt(m->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0
			|| bind(m->lfd, (struct sockaddr *)&ss, sl) != 0 || listen(m->lfd, 16) != 0){
		snprintf(err, errlen, "plugin_opt_metrics_port: cannot listen on %s port %d: %s", addr, port, strerror(errno));
		goto error;
	}
	m->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if(m->evfd < 0){
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		goto error;
	}
	vg_sbuf_init(&m->prom);
	vg_sbuf_init(&m->health);
	vg_sbuf_init(&m->out);
	pthread_mutex_init(&m->mu, NULL);
	pthread_cond_init(&m->cv, NULL);
	if(pthread_create(&m->thread, NULL, metrics_main, m) != 0){
		snprintf(err, errlen, "cannot start the metrics thread");
		pthread_mutex_destroy(&m->mu);
		pthread_cond_destroy(&m->cv);
		goto error;
	}
	*out = m;
	return 0;
error:
	if(m->lfd >= 0){
		close(m->lfd);
	}
	if(m->evfd >= 0){
		close(m->evfd);
	}
	free(m);
	return -1;
}

void vg_metrics_tick(struct vg_metrics *m, struct vg_plugin *vg)
{
	if(m == NULL || !atomic_exchange(&m->wanted, false)){
		return;
	}
	pthread_mutex_lock(&m->mu);
	vg_sbuf_reset(&m->prom);
	vg_sbuf_reset(&m->health);
	vg_stats_prometheus(vg, &m->prom);
	m->health_status = vg_stats_health(vg, &m->health);
	m->rendered_ms = vg_now_ms();
	m->gen++;
	pthread_cond_broadcast(&m->cv);
	pthread_mutex_unlock(&m->mu);
}

void vg_metrics_stop(struct vg_metrics *m)
{
	uint64_t one = 1;

	if(m == NULL){
		return;
	}
	if(write(m->evfd, &one, sizeof(one)) != sizeof(one)){
		/* cannot fail for a fresh eventfd */
	}
	/* A request waiting for a rendering gives up within RENDER_WAIT_MS. */
	pthread_join(m->thread, NULL);
	close(m->lfd);
	close(m->evfd);
	vg_sbuf_free(&m->prom);
	vg_sbuf_free(&m->health);
	vg_sbuf_free(&m->out);
	pthread_mutex_destroy(&m->mu);
	pthread_cond_destroy(&m->cv);
	free(m);
}
