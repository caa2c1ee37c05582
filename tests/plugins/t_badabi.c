/* t_badabi.c - test fixture: a plugin compiled against a future ABI version (99). */
#include "plugin.h"
static const plugin_desc_t desc = {.abi = 99, .kind = PLUGIN_RENDERER, .name = "t_badabi"};
const plugin_desc_t *invclip_plugin(unsigned i) { return i == 0 ? &desc : 0; }
