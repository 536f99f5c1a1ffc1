/* The table of services with a PostgreSQL projection. Adding one = one row. */
#include <string.h>

#include "projection.h"

extern const proj_service proj_identity;
extern const proj_service proj_presence;
extern const proj_service proj_tasks;
extern const proj_service proj_billing;
extern const proj_service proj_audit;

static const proj_service *const services[] = {&proj_identity, &proj_presence, &proj_tasks,
                                               &proj_billing, &proj_audit};

const proj_service *proj_service_find(const char *service) {
    for (size_t i = 0; i < sizeof services / sizeof services[0]; i++)
        if (strcmp(services[i]->service, service) == 0) return services[i];
    return NULL;
}

const proj_handler *proj_service_handler(const proj_service *svc, const char *event) {
    for (int i = 0; i < svc->handler_count; i++)
        if (strcmp(svc->handlers[i].event, event) == 0 || strcmp(svc->handlers[i].event, "*") == 0)
            return &svc->handlers[i];
    return NULL;
}
