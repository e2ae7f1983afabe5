// check.cjs must see a value lost in transit: a zero, false, empty string or
// empty list sent in a field with presence that arrives without it.
'use strict';
const assert = require('assert');
const { normalise } = require('./check.cjs');

const same = (a, b) => JSON.stringify(normalise(a)) === JSON.stringify(normalise(b));
const attribute = (value) => ({ attributes: [{ key: 'k', value }] });

// Values with presence: present defaults differ from nothing.
for (const value of [{ intValue: '0' }, { intValue: 0 }, { boolValue: false }, { stringValue: '' },
  { doubleValue: 0 }, { arrayValue: {} }, { arrayValue: { values: [] } }]) {
  assert.ok(!same(attribute(value), attribute({})), `${JSON.stringify(value)} lost must show`);
}
assert.ok(!same({ asInt: '0' }, {}), 'a point of value 0 lost must show');
assert.ok(!same({ sum: 0, count: '3' }, { count: '3' }), 'a histogram sum of 0 lost must show');
// The two JSON spellings of one value still agree.
assert.ok(same(attribute({ intValue: 0 }), attribute({ intValue: '0' })));
assert.ok(same(attribute({ arrayValue: {} }), attribute({ arrayValue: { values: [] } })));
// Fields without presence at their default are the same as absent.
assert.ok(same({ droppedAttributesCount: 0, name: 'x' }, { name: 'x' }));
assert.ok(same({ flags: 0, events: [], name: 'x' }, { name: 'x' }));
assert.ok(!same({ flags: 1, name: 'x' }, { name: 'x' }));
console.log('check.cjs: present defaults compared, absent defaults equal');
