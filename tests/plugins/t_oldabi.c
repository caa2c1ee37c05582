/* t_oldabi.c - test fixture: a loss built against ABI 1 (its descriptor says
 * so; the host must refuse it before looking at anything else, since ABI 1's
 * tables have other shapes). */
#include "plugin.h"
static const plugin_desc_t desc = {.abi = 1, .kind = PLUGIN_LOSS, .name = "t_oldabi"};
const plugin_desc_t *invclip_plugin(unsigned i) { return i == 0 ? &desc : 0; }
