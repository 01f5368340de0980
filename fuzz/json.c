/* fuzz/json.c: the JSON parser (lib/json.c) on arbitrary bytes; what parses is written back
 * and must parse again to the same shape. */
#include "fuzz.h"
#include "json.h"

#include <string.h>

static void write_value(json_writer *w, const char *key, const json_value *v)
{
	switch (v->type) {
	case JSON_NULL: jw_null(w, key); break;
	case JSON_BOOL: jw_bool(w, key, v->boolean); break;
	case JSON_NUM: jw_num(w, key, v->num); break;
	case JSON_STR: jw_str(w, key, v->str); break;
	case JSON_ARR:
	case JSON_OBJ:
		if (v->type == JSON_ARR)
			jw_arr(w, key);
		else
			jw_obj(w, key);
		for (size_t i = 0; i < v->n; i++)
			write_value(w, v->type == JSON_OBJ ? v->keys[i] : NULL, &v->items[i]);
		jw_end(w);
		break;
	}
}

static size_t count(const json_value *v)
{
	size_t n = 1;
	for (size_t i = 0; i < v->n; i++)
		n += count(&v->items[i]);
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_value *v = json_parse((const char *)data, size);
	if (!v)
		return 0;
	if (v->type == JSON_OBJ && v->n)
		if (json_get(v, v->keys[v->n - 1]) != &v->items[v->n - 1])
			abort(); /* keys are unique: the lookup finds the one there is */
	json_writer w;
	jw_init(&w, size & 1);
	write_value(&w, NULL, v);
	const char *text = jw_text(&w);
	if (text) {
		json_value *back = json_parse(text, strlen(text));
		if (!back || count(back) != count(v))
			abort();
		json_free(back);
	}
	jw_free(&w);
	json_free(v);
	return 0;
}
