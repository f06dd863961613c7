// Alarm message codes (LCM-AL-4, SLW-IF-1, LCM-PF-7): what an alarm's `code` and `params` read as in
// each language. Every table below is `code: ['中文', 'English']`, so a code cannot exist in one
// language only; tests/unit/alarms/test_console_alarm_texts.py reads this file as text and fails when
// a default rule id (shared/domain/alarms/default_rules.py), a fault classification or advice code
// (shared/domain/alarms/faults.py), a timeline entry type or an alarm event type has no entry here.
// Keep every entry as `key: ['…', '…'],` with single-quoted strings (the drift test parses them) and
// no vue-i18n special characters (@ | $) in the texts.

type Pair = readonly [string, string]
type Table = Readonly<Record<string, Pair>>

/** `alarm.<rule_id>`: the platform's default rules (docs/alarm-rules.md §5). */
export const RULE_NAMES = {
  thermal_runaway: ['热失控', 'Thermal runaway'],
  smoke: ['烟雾报警', 'Smoke detected'],
  flame: ['火焰报警', 'Flame detected'],
  water_ingress: ['进水报警', 'Water ingress'],
  h2_prewarning: ['氢气浓度预警', 'Hydrogen pre-warning'],
  h2_high: ['氢气浓度超限', 'Hydrogen concentration high'],
  co_prewarning: ['一氧化碳浓度预警', 'Carbon monoxide pre-warning'],
  co_high: ['一氧化碳浓度超限', 'Carbon monoxide concentration high'],
  module_pressure_rise: ['模组压力骤升', 'Module pressure rise'],
  cell_overvoltage: ['单体过压', 'Cell overvoltage'],
  cell_overvoltage_critical: ['单体严重过压', 'Cell overvoltage (critical)'],
  cell_undervoltage: ['单体欠压', 'Cell undervoltage'],
  cell_undervoltage_critical: ['单体严重欠压', 'Cell undervoltage (critical)'],
  pack_overvoltage: ['总压过压', 'Pack overvoltage'],
  pack_overvoltage_critical: ['总压严重过压', 'Pack overvoltage (critical)'],
  pack_undervoltage: ['总压欠压', 'Pack undervoltage'],
  pack_undervoltage_critical: ['总压严重欠压', 'Pack undervoltage (critical)'],
  charge_overcurrent: ['充电过流', 'Charge overcurrent'],
  discharge_overcurrent: ['放电过流', 'Discharge overcurrent'],
  over_temperature: ['温度过高', 'Over-temperature'],
  high_temperature: ['温度偏高', 'High temperature'],
  under_temperature: ['温度过低', 'Under-temperature'],
  temperature_difference: ['温差过大', 'Temperature difference too large'],
  temperature_consistency: ['温度一致性差', 'Temperature inconsistency'],
  cell_voltage_consistency: ['单体电压一致性差', 'Cell voltage inconsistency'],
  cell_voltage_spread: ['单体压差过大', 'Cell voltage spread too large'],
  soc_low: ['SOC 过低', 'SOC low'],
  soc_high: ['满电仍在充电（SOC 过高）', 'SOC high (still charging when full)'],
  soc_jump: ['SOC 跳变', 'SOC jump'],
  insulation_low: ['绝缘电阻偏低', 'Insulation resistance low'],
  insulation_low_critical: ['绝缘电阻严重偏低', 'Insulation resistance critically low'],
  gb_alarm_level3: ['国标三级报警（终端上报）', 'GB/T 32960 level 3 alarm (reported by the terminal)'],
  communication_lost: ['通信中断', 'Communication lost'],
} as const satisfies Table

/** `alarm.classification.<classification>`: fault classes of faults.py (CATALOGUE and OTHER). */
export const FAULT_CLASSIFICATIONS = {
  battery_management: ['电池管理系统', 'Battery management system'],
  sensor: ['传感器', 'Sensor'],
  safety_detector: ['安全探测器', 'Safety detector'],
  contactor: ['接触器', 'Contactor'],
  thermal_management: ['热管理', 'Thermal management'],
  communication: ['通信', 'Communication'],
  power_supply: ['辅助电源', 'Auxiliary power supply'],
  insulation: ['绝缘', 'Insulation'],
  other: ['其他', 'Other'],
} as const satisfies Table

/** `alarm.advice.<code>`: advice codes of faults.py (stored as `advice.<code>`). */
export const FAULT_ADVICE = {
  inspect_bms_wiring: [
    '检查 BMS 采样线束与接插件，必要时更换采样板',
    'Inspect the BMS sense wiring and connectors; replace the sampling board if needed',
  ],
  replace_sensor: ['校准或更换故障传感器', 'Calibrate or replace the faulty sensor'],
  test_detector_on_site: [
    '现场测试探测器（烟感、火焰、气体），确认前加强人工巡检',
    'Test the detector (smoke, flame, gas) on site; patrol manually until it is confirmed',
  ],
  inspect_contactor: [
    '检查接触器（触点粘连、线圈、驱动回路），排除前不得合闸',
    'Inspect the contactor (welded contacts, coil, drive circuit); do not close it until resolved',
  ],
  check_cooling: ['检查冷却系统（风扇、液冷泵、风道、滤网）', 'Check the cooling system (fans, coolant pump, ducts, filters)'],
  check_link: ['检查通信链路（SIM 卡、天线、网关、线缆）', 'Check the communication link (SIM card, antenna, gateway, cabling)'],
  check_auxiliary_power: ['检查辅助电源及 12/24 V 供电回路', 'Check the auxiliary power and the 12/24 V supply'],
  isolate_and_inspect: [
    '立即隔离设备并测试绝缘电阻，排除前禁止运行',
    'Isolate the device at once and test its insulation; do not operate it until resolved',
  ],
  contact_manufacturer: ['联系设备厂家并提供故障代码进行诊断', 'Contact the manufacturer with the fault code for a diagnosis'],
} as const satisfies Table

/** `alarm.timeline.<type>`: TimelineEntryType. */
export const TIMELINE_TYPES = {
  raised: ['告警触发', 'Alarm raised'],
  notified: ['已通知', 'Notified'],
  escalated: ['通知升级', 'Escalated'],
  command_sent: ['下发保护指令', 'Protective command sent'],
  command_acked: ['设备已执行指令', 'Device executed the command'],
  command_failed: ['指令执行失败', 'Command failed'],
  command_expired: ['指令已过期', 'Command expired'],
  acknowledged: ['已确认', 'Acknowledged'],
  assigned: ['已指派', 'Assigned'],
  commented: ['备注', 'Comment'],
  cleared: ['已解除', 'Cleared'],
} as const satisfies Table

/** `alarm.event.<type>`: AlarmEventType (live pushes on the alarms stream). */
export const ALARM_EVENTS = {
  AlarmRaised: ['告警触发', 'Alarm raised'],
  AlarmEscalated: ['告警升级', 'Alarm escalated'],
  AlarmAcknowledged: ['告警已确认', 'Alarm acknowledged'],
  AlarmCleared: ['告警解除', 'Alarm cleared'],
} as const satisfies Table

/** `alarm.reason.<code>`: reason codes of events, escalations, deliveries and automatic clears. */
export const REASONS = {
  condition_gone: ['条件消失，自动解除', 'Condition gone, cleared automatically'],
  command_ack_missing: ['保护指令未收到设备确认', 'The protective command was not acknowledged by the device'],
  command_failed: ['保护指令执行失败', 'The protective command failed'],
  command_rejected: ['设备拒绝执行保护指令', 'The device rejected the protective command'],
  command_expired: ['保护指令已过期', 'The protective command expired'],
  not_acknowledged: ['告警仍未确认', 'The alarm is still not acknowledged'],
  escalated: ['通知已升级', 'Notifications escalated'],
  quiet_hours: ['免打扰时段，延后发送', 'Held during quiet hours'],
  alarm_closed: ['告警已关闭，不再发送', 'Alarm closed, not sent'],
  contact_removed: ['联系人已被移除', 'Contact removed from the policy'],
  in_progress: ['正在处理中', 'In progress'],
  protective_action: ['告警触发的保护动作', 'Protective action of the alarm'],
  clear_action: ['告警解除时的恢复动作', 'Action on clearing the alarm'],
} as const satisfies Table

/** `alarm.metric.<metric>`: Metric (rule conditions and params). */
export const METRICS = {
  pack_voltage_v: ['总电压', 'Pack voltage'],
  current_a: ['电流', 'Current'],
  charge_current_a: ['充电电流', 'Charge current'],
  discharge_current_a: ['放电电流', 'Discharge current'],
  soc_pct: ['荷电状态 SOC', 'State of charge'],
  insulation_resistance_kohm: ['绝缘电阻', 'Insulation resistance'],
  cell_voltage_max_v: ['最高单体电压', 'Highest cell voltage'],
  cell_voltage_min_v: ['最低单体电压', 'Lowest cell voltage'],
  cell_voltage_spread_v: ['单体压差', 'Cell voltage spread'],
  temperature_max_c: ['最高温度', 'Highest temperature'],
  temperature_min_c: ['最低温度', 'Lowest temperature'],
  temperature_diff_c: ['温差', 'Temperature difference'],
  h2_ppm: ['氢气浓度', 'Hydrogen concentration'],
  co_ppm: ['一氧化碳浓度', 'Carbon monoxide concentration'],
  module_pressure_kpa: ['模组压力', 'Module pressure'],
} as const satisfies Table

/** `alarm.signal.<signal>`: Signal. */
export const SIGNALS = {
  smoke_detected: ['烟雾', 'Smoke'],
  flame_detected: ['火焰', 'Flame'],
  water_ingress: ['进水', 'Water ingress'],
  door_open: ['柜门打开', 'Door open'],
} as const satisfies Table

/** `alarm.series.<series>`: Series. */
export const SERIES = {
  cell_voltages_v: ['各单体电压', 'Cell voltages'],
  probe_temperatures_c: ['各探头温度', 'Probe temperatures'],
} as const satisfies Table

/** `alarm.limit.<limit>`: Limit (model limits a threshold refers to). */
export const LIMITS = {
  cell_voltage_min_v: ['单体电压下限', 'Cell voltage minimum'],
  cell_voltage_max_v: ['单体电压上限', 'Cell voltage maximum'],
  pack_voltage_min_v: ['总压下限', 'Pack voltage minimum'],
  pack_voltage_max_v: ['总压上限', 'Pack voltage maximum'],
  temperature_min_c: ['最低工作温度', 'Minimum operating temperature'],
  max_operating_temperature_c: ['最高工作温度', 'Maximum operating temperature'],
  max_charge_current_a: ['最大充电电流', 'Maximum charge current'],
  max_discharge_current_a: ['最大放电电流', 'Maximum discharge current'],
} as const satisfies Table

/** `alarm.command.<name>`: CommandName (protective actions, timeline). */
export const COMMANDS = {
  cut_off: ['切断输出', 'Cut off'],
  stop_charge: ['停止充电', 'Stop charging'],
  stop_discharge: ['停止放电', 'Stop discharging'],
  set_reporting_interval: ['设置上报周期', 'Set reporting interval'],
  restart: ['远程重启', 'Restart'],
  fault_reset: ['故障复位', 'Fault reset'],
  set_parameters: ['设置运行参数', 'Set parameters'],
} as const satisfies Table

/** `alarm.commandStatus.<status>`: CommandStatus. */
export const COMMAND_STATUSES = {
  pending: ['待发送', 'Pending'],
  sent: ['已发送', 'Sent'],
  acked: ['已执行', 'Executed'],
  rejected: ['被拒绝', 'Rejected'],
  failed: ['失败', 'Failed'],
  expired: ['已过期', 'Expired'],
} as const satisfies Table

/** `alarm.channel.<channel>`: notification channels. */
export const CHANNELS = {
  in_app: ['站内消息', 'In-app'],
  email: ['邮件', 'E-mail'],
  sms: ['短信', 'SMS text'],
  voice: ['语音电话', 'Voice call'],
} as const satisfies Table

/** `alarm.delivery.<result>`: outcome of one notification delivery (timeline `notified`). */
export const DELIVERY_RESULTS = {
  stored: ['已送达收件箱', 'Delivered to the inbox'],
  sent: ['已发送', 'Sent'],
  failed: ['发送失败', 'Failed'],
  held: ['延后发送', 'Held'],
  skipped: ['已跳过', 'Skipped'],
  dropped: ['已取消', 'Dropped'],
  retry: ['将重试', 'Will retry'],
} as const satisfies Table

/** `alarm.notificationKind.<kind>`: NotificationKind (inbox, timeline `notified`). */
export const NOTIFICATION_KINDS = {
  alarm_raised: ['告警通知', 'Alarm raised'],
  alarm_escalated: ['告警升级', 'Alarm escalated'],
  alarm_reminder: ['告警提醒（仍未确认）', 'Reminder (still not acknowledged)'],
  alarm_cleared: ['告警解除', 'Alarm cleared'],
} as const satisfies Table

/** `alarm.actor.<actor>`: non-user actors of timeline entries. */
export const ACTORS = {
  system: ['系统', 'System'],
  device: ['设备', 'Device'],
} as const satisfies Table

/** `alarm.param.<name>`: labels of alarm params (docs/alarm-rules.md §4) and fault params. */
export const PARAM_LABELS = {
  metric: ['指标', 'Metric'],
  op: ['比较方式', 'Comparison'],
  value: ['数值', 'Value'],
  threshold: ['阈值', 'Threshold'],
  clear_threshold: ['解除阈值', 'Clear threshold'],
  unit: ['单位', 'Unit'],
  cell: ['电芯编号', 'Cell'],
  probe: ['探头编号', 'Probe'],
  cell_max: ['最高电压电芯', 'Highest cell'],
  cell_min: ['最低电压电芯', 'Lowest cell'],
  probe_max: ['最高温度探头', 'Hottest probe'],
  probe_min: ['最低温度探头', 'Coldest probe'],
  signal: ['信号', 'Signal'],
  series: ['数据序列', 'Series'],
  median: ['中位数', 'Median'],
  deviation: ['偏离中位数', 'Deviation from the median'],
  gb_flags: ['国标通用报警标志', 'GB/T 32960 alarm flags'],
  gb_max_level: ['国标最高报警等级', 'GB/T 32960 maximum level'],
  gb_bits: ['国标报警位', 'GB/T 32960 alarm bits'],
  rate_source: ['变化率来源', 'Rate source'],
  rate_per_s: ['变化率', 'Rate of change'],
  rate_threshold: ['变化率阈值', 'Rate threshold'],
  rate_op: ['变化率比较', 'Rate comparison'],
  rate_sustained_s: ['持续时间（秒）', 'Sustained (s)'],
  rate_unit: ['变化率单位', 'Rate unit'],
  min_delta: ['最小跳变量', 'Minimum step'],
  previous: ['前值', 'Previous value'],
  delta: ['变化量', 'Change'],
  drop_value: ['跌落后数值', 'Value after the drop'],
  drop_reference: ['参考值', 'Reference value'],
  drop_pct: ['跌落幅度（%）', 'Drop (%)'],
  drop_threshold_pct: ['跌落阈值（%）', 'Drop threshold (%)'],
  drop_unit: ['跌落单位', 'Drop unit'],
  silent_s: ['无消息时长（秒）', 'Silent for (s)'],
  after_s: ['判定时长（秒）', 'Silence limit (s)'],
  last_arrival_ms: ['最后一次收到消息', 'Last message received'],
  fault_code: ['故障代码', 'Fault code'],
  classification: ['故障分类', 'Fault class'],
  advice: ['处理建议', 'Advice'],
} as const satisfies Table

/** `alarm.detail.<template>`: how params read inside an alarm's one-line text. */
export const DETAIL_TEMPLATES = {
  wrap: ['{title}（{detail}）', '{title} ({detail})'],
  sep: ['；', '; '],
  cell: ['电芯 #{n}', 'cell #{n}'],
  probe: ['探头 #{n}', 'probe #{n}'],
  cells: ['电芯 #{max}（最高）与 #{min}（最低）', 'cells #{max} (highest) and #{min} (lowest)'],
  probes: ['探头 #{max}（最高）与 #{min}（最低）', 'probes #{max} (highest) and #{min} (lowest)'],
  compare: ['{value}，阈值 {op} {threshold}', '{value}, limit {op} {threshold}'],
  rate: ['变化率 {rate}，阈值 {op} {threshold}，持续 {span}', 'rate {rate}, limit {op} {threshold}, for {span}'],
  drop: ['跌落 {pct}%（{from} → {to}），阈值 {threshold}%', 'dropped {pct}% ({from} → {to}), limit {threshold}%'],
  jump: ['{previous} → {value}，变化 {delta}', '{previous} → {value}, change {delta}'],
  deviation: ['{value}，偏离中位数 {deviation}，阈值 {threshold}', '{value}, {deviation} from the median, limit {threshold}'],
  silence: ['{silent}未收到消息，判定时长 {after}', 'no message for {silent}, limit {after}'],
  gbBits: ['国标报警位 {bits}', 'GB/T 32960 alarm bits {bits}'],
  gbLevel: ['终端报警等级 {level}', 'terminal alarm level {level}'],
  seconds: ['{n} 秒', '{n} s'],
  minutes: ['{n} 分钟', '{n} min'],
  hours: ['{n} 小时', '{n} h'],
  fault: ['设备故障（{classification}）：{code}', 'Device fault ({classification}): {code}'],
} as const satisfies Table

/**
 * Sub-trees of `alarm.*` that are not rule ids: a rule id equal to one of these would shadow it
 * (the rule editor refuses them, and the drift test checks the default rules).
 */
export const RESERVED_CODES = [
  'classification',
  'advice',
  'timeline',
  'event',
  'reason',
  'metric',
  'signal',
  'series',
  'limit',
  'command',
  'commandStatus',
  'channel',
  'delivery',
  'notificationKind',
  'actor',
  'param',
  'detail',
] as const

function pick(table: Table, i: 0 | 1): Record<string, string> {
  return Object.fromEntries(Object.entries(table).map(([k, v]) => [k, v[i]]))
}

function build(i: 0 | 1) {
  return {
    alarm: {
      ...pick(RULE_NAMES, i),
      classification: pick(FAULT_CLASSIFICATIONS, i),
      advice: pick(FAULT_ADVICE, i),
      timeline: pick(TIMELINE_TYPES, i),
      event: pick(ALARM_EVENTS, i),
      reason: pick(REASONS, i),
      metric: pick(METRICS, i),
      signal: pick(SIGNALS, i),
      series: pick(SERIES, i),
      limit: pick(LIMITS, i),
      command: pick(COMMANDS, i),
      commandStatus: pick(COMMAND_STATUSES, i),
      channel: pick(CHANNELS, i),
      delivery: pick(DELIVERY_RESULTS, i),
      notificationKind: pick(NOTIFICATION_KINDS, i),
      actor: pick(ACTORS, i),
      param: pick(PARAM_LABELS, i),
      detail: pick(DETAIL_TEMPLATES, i),
    },
  }
}

export default { 'zh-CN': build(0), en: build(1) }
