/*
 * nats_floor: what the NATS client library (libnats) costs per message,
 * without packet_logs around it (issue 10). Publishes COUNT messages of
 * 450 bytes (a record's size) at RATE per second to a JetStream stream's
 * subject, and prints the process's CPU time per message, one way of
 * four:
 *   plain    natsConnection_Publish: no header, no acknowledgment
 *   header   natsMsg with a Nats-Msg-Id header, natsConnection_PublishMsg:
 *            no acknowledgment (JetStream stores it all the same)
 *   acks     as header, each with its own reply subject (ack.<n>) and one
 *            subscription (ack.*) whose callback counts the PubAcks: an
 *            acknowledgment per message without the JetStream layer
 *   js       js_PublishMsgAsync with jsPubOptions.MsgId and an ack
 *            handler: the library's JetStream publishing, as packet_logs
 *            uses it
 * and waits (acks, js) until every acknowledgment is in.
 * Usage: nats_floor URL MODE RATE COUNT
 */
#include <nats/nats.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static _Atomic long acked;

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void on_ack_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)nc;
    (void)sub;
    (void)closure;
    /* a PubAck: {"stream":"PACKET_LOGS","seq":N}; an error has "error" */
    const char *data = natsMsg_GetData(msg);
    if (data && !strstr(data, "\"error\""))
        atomic_fetch_add(&acked, 1);
    natsMsg_Destroy(msg);
}

static void on_js_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
    (void)js;
    (void)pae;
    (void)closure;
    if (pa)
        atomic_fetch_add(&acked, 1);
    natsMsg_Destroy(msg);
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: nats_floor URL plain|header|acks|js RATE COUNT\n");
        return 2;
    }
    const char *mode = argv[2];
    long rate = atol(argv[3]), count = atol(argv[4]);
    natsConnection *nc = NULL;
    if (natsConnection_ConnectTo(&nc, argv[1]) != NATS_OK) {
        fprintf(stderr, "nats_floor: cannot connect to %s\n", argv[1]);
        return 1;
    }
    jsCtx *js = NULL;
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.PublishAsync.MaxPending = 8192;
    jo.PublishAsync.AckHandler = on_js_ack;
    natsSubscription *sub = NULL;
    if (!strcmp(mode, "js"))
        natsConnection_JetStream(&js, nc, &jo);
    else if (!strcmp(mode, "acks"))
        natsConnection_Subscribe(&sub, nc, "ack.*", on_ack_msg, NULL);
    int acks = js || sub;

    char payload[450];
    memset(payload, 'y', sizeof(payload));
    char id[64], reply[32];
    long run = (long)time(NULL);
    double cpu0 = cpu_seconds(), t0 = now();
    for (long i = 0; i < count; i++) {
        if (i % 1000 == 0) {
            double ahead = t0 + (double)i / rate - now();
            if (ahead > 0) {
                struct timespec nap = {(time_t)ahead, (long)((ahead - (time_t)ahead) * 1e9)};
                nanosleep(&nap, NULL);
            }
        }
        snprintf(id, sizeof(id), "floor.%ld.%ld", run, i);
        if (!strcmp(mode, "plain")) {
            natsConnection_Publish(nc, "packet_logs.floor.wan:in", payload, sizeof(payload));
            continue;
        }
        natsMsg *msg = NULL;
        snprintf(reply, sizeof(reply), "ack.%ld", i);
        natsMsg_Create(&msg, "packet_logs.floor.wan:in", sub ? reply : NULL, payload,
                       sizeof(payload));
        if (js) {
            jsPubOptions po;
            jsPubOptions_Init(&po);
            po.MsgId = id;
            js_PublishMsgAsync(js, &msg, &po);
        } else {
            natsMsgHeader_Set(msg, "Nats-Msg-Id", id);
            natsConnection_PublishMsg(nc, msg);
        }
        natsMsg_Destroy(msg);
    }
    natsConnection_Flush(nc);
    for (int waited = 0; acks && atomic_load(&acked) < count && waited < 60000; waited += 10)
        nats_Sleep(10);
    double cpu = cpu_seconds() - cpu0, wall = now() - t0;
    printf("mode %s: %ld messages in %.2f s, %ld acknowledged, CPU %.2f s, %.2f us/message\n", mode,
           count, wall, (long)atomic_load(&acked), cpu, cpu / count * 1e6);
    natsSubscription_Destroy(sub);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    nats_Close();
    return 0;
}
