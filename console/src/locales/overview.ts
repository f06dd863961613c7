// The fleet overview page (LCM-MON-4, SLW-WEB-4).
export default {
  'zh-CN': {
    overview: {
      kpi: {
        devicesGroup: '设备',
        alarmsGroup: '告警',
        total: '设备总数',
        online: '在线设备',
        activeAlarms: '未关闭告警',
        level3: '三级告警',
        unacknowledged: '未确认告警',
      },
      charts: {
        kindStatus: '设备类型 × 运行状态',
        alarmsByLevel: '未关闭告警（按等级）',
        trend: '告警趋势（每小时新增）',
        trendWindow: '趋势时间范围',
        truncated: '该时间段告警过多，较早的告警未计入趋势。',
        noneRaised: '该时间段内没有新增告警。',
      },
      hours: {
        h24: '24 小时',
        h72: '72 小时',
        h168: '7 天',
      },
      alarms: {
        open: '未关闭',
      },
      worst: {
        title: '需要关注的设备',
        none: '当前没有告警、故障或离线设备',
        viewAll: '查看全部设备',
      },
    },
  },
  en: {
    overview: {
      kpi: {
        devicesGroup: 'Devices',
        alarmsGroup: 'Alarms',
        total: 'Devices',
        online: 'Online',
        activeAlarms: 'Open alarms',
        level3: 'Level 3 alarms',
        unacknowledged: 'Unacknowledged',
      },
      charts: {
        kindStatus: 'Device kind × status',
        alarmsByLevel: 'Open alarms by level',
        trend: 'Alarm trend (raised per hour)',
        trendWindow: 'Trend window',
        truncated: 'Too many alarms in this window: the oldest are not counted in the trend.',
        noneRaised: 'No alarm was raised in this window.',
      },
      hours: {
        h24: '24 hours',
        h72: '72 hours',
        h168: '7 days',
      },
      alarms: {
        open: 'open',
      },
      worst: {
        title: 'Devices that need attention',
        none: 'No device with an alarm, a fault or offline right now',
        viewAll: 'All devices',
      },
    },
  },
}
